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
    /// What can still be provisioned: the data directory's free space, and with
    /// --capacity-limit no more than the limit less what is provisioned. Capabilities or a
    /// topology this node cannot serve have no capacity.
    /// </summary>
    private Task<GetCapacityResponse> GetCapacity(GetCapacityRequest request, CallContext context)
    {
        VolumeParameters.RequireKnown(request.Parameters, VolumeParameters.Create, "parameters");
        var servable = request.VolumeCapabilities.All(c => VolumeCapabilities.Unsupported(c) is null)
            && (request.AccessibleTopology is null || IsThisNode(request.AccessibleTopology));
        var available = servable ? AvailableBytes() : 0;
        return Task.FromResult(new GetCapacityResponse
        {
            AvailableCapacity = available,
            MaximumVolumeSize = Math.Min(available, CapacityRules.MaximumBytes),
            MinimumVolumeSize = CapacityRules.MinimumBytes,
        });
    }

    /// <summary>What this node can still provision, whatever the request: GetCapacity's answer
    /// for a servable one, and what the node registers with a cluster controller.</summary>
    public long AvailableBytes()
    {
        var available = driver.Engine.AvailableBytes;
        if (driver.Options.CapacityLimitBytes is { } limit)
        {
            available = Math.Min(available, Math.Max(0, limit - driver.State.ListVolumes().Sum(v => v.CapacityBytes)));
        }
        return available;
    }
}
