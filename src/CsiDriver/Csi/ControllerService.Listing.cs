using Csi.V1;
using CsiDriver.Rpc;

namespace CsiDriver.Csi;

public sealed partial class ControllerService
{
    private Task<ListVolumesResponse> ListVolumes(ListVolumesRequest request, CallContext context)
    {
        var (page, next) = Pages.Take(driver.State.ListVolumes(), v => v.Id, request.MaxEntries, request.StartingToken, "ListVolumes");
        var publications = driver.State.Publications().ToLookup(p => p.VolumeId);
        var response = new ListVolumesResponse { NextToken = next };
        foreach (var record in page)
        {
            response.Entries.Add(new ListVolumesResponse.Types.Entry
            {
                Volume = ToCsi(record),
                Status = new ListVolumesResponse.Types.VolumeStatus
                {
                    PublishedNodeIds = { publications[record.Id].Select(p => p.NodeId) },
                    VolumeCondition = ConditionOf(record),
                },
            });
        }
        return Task.FromResult(response);
    }

    /// <summary>
    /// What can still be provisioned (<see cref="ProvisioningBudget"/>: the rule CreateVolume
    /// and ControllerExpandVolume are held to), which is also the largest volume that can be
    /// made. Capabilities or a topology this node cannot serve have no capacity.
    /// </summary>
    private Task<GetCapacityResponse> GetCapacity(GetCapacityRequest request, CallContext context)
    {
        VolumeParameters.RequireKnown(request.Parameters, VolumeParameters.Create, "parameters");
        var servable = request.VolumeCapabilities.All(c => VolumeCapabilities.Unsupported(c) is null)
            && (request.AccessibleTopology is null || IsThisNode(request.AccessibleTopology));
        var available = servable ? driver.Budget.Available() : 0;
        return Task.FromResult(new GetCapacityResponse
        {
            AvailableCapacity = available,
            MaximumVolumeSize = Math.Min(available, CapacityRules.MaximumBytes),
            MinimumVolumeSize = CapacityRules.MinimumBytes,
        });
    }
}
