using Csi.V1;
using CsiDriver.Rpc;

namespace CsiDriver.Csi;

public sealed partial class ControllerService
{
    /// <summary>Page tokens carry the last id returned: volumes are listed in id order, so a
    /// volume created or deleted between pages neither repeats nor shifts the others.</summary>
    private const string TokenPrefix = "after:";

    private Task<ListVolumesResponse> ListVolumes(ListVolumesRequest request, CallContext context)
    {
        if (request.MaxEntries < 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"max_entries must not be negative (got {request.MaxEntries})");
        }
        var after = "";
        if (request.StartingToken.Length > 0)
        {
            if (!request.StartingToken.StartsWith(TokenPrefix, StringComparison.Ordinal))
            {
                throw new RpcException(StatusCode.Aborted, $"starting_token '{request.StartingToken}' was not returned by ListVolumes");
            }
            after = request.StartingToken[TokenPrefix.Length..];
        }

        var remaining = driver.State.ListVolumes().Where(v => string.CompareOrdinal(v.Id, after) > 0).ToList();
        var page = request.MaxEntries > 0 ? remaining.Take(request.MaxEntries).ToList() : remaining;
        var publications = driver.State.Publications().ToLookup(p => p.VolumeId);
        var response = new ListVolumesResponse();
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
        if (page.Count < remaining.Count)
        {
            response.NextToken = TokenPrefix + page[^1].Id;
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
        var available = servable ? driver.Engine.AvailableBytes : 0;
        if (servable && driver.Options.CapacityLimitBytes is { } limit)
        {
            available = Math.Min(available, Math.Max(0, limit - driver.State.ListVolumes().Sum(v => v.CapacityBytes)));
        }
        return Task.FromResult(new GetCapacityResponse
        {
            AvailableCapacity = available,
            MaximumVolumeSize = Math.Min(available, CapacityRules.MaximumBytes),
            MinimumVolumeSize = CapacityRules.MinimumBytes,
        });
    }
}
