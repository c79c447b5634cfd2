using CsiAddons.Replication;
using CsiDriver.Replication;
using CsiDriver.Rpc;
using Google.Protobuf;

namespace CsiDriver.Csi;

public sealed partial class ReplicationService
{
    /// <summary>What a csi-addons replication source is: one volume, or a volume group (an engine
    /// consistency group).</summary>
    internal enum ReplicationSourceKind
    {
        Volume,
        VolumeGroup,
    }

    /// <summary>What a request replicates. Its id is the replication id: a volume group's id
    /// is also its consistency group's name, so a group and a volume never share one.</summary>
    internal sealed record Source(ReplicationSourceKind Kind, string Id)
    {
        /// <summary>
        /// replication_source names a volume or a volume group; it is required (upstream
        /// reserved the old volume_id field). Every request message has it under this name; it
        /// is read through the descriptor so the requests share this one place.
        /// </summary>
        public static Source From(IMessage request)
        {
            var field = request.Descriptor.Fields.InDeclarationOrder().Single(f => f.Name == "replication_source");
            var source = (ReplicationSource?)field.Accessor.GetValue(request);
            return source?.TypeCase switch
            {
                ReplicationSource.TypeOneofCase.Volume =>
                    new Source(ReplicationSourceKind.Volume, Required(source.Volume.VolumeId, "replication_source.volume.volume_id")),
                ReplicationSource.TypeOneofCase.Volumegroup =>
                    new Source(ReplicationSourceKind.VolumeGroup, Required(source.Volumegroup.VolumeGroupId, "replication_source.volumegroup.volume_group_id")),
                _ => throw new RpcException(StatusCode.InvalidArgument, "replication_source is required: a volume or a volume group"),
            };
        }

        public override string ToString() => Kind == ReplicationSourceKind.Volume ? $"volume '{Id}'" : $"volume group '{Id}'";

        private static string Required(string value, string field)
        {
            RequestFields.Require(value, field);
            return value;
        }
    }

    /// <summary>One call at a time per source: the spec's "operation pending" is ABORTED. A
    /// group's volume-group lock is held too, so its membership does not change under a
    /// replication call (ModifyVolumeGroupMembership meanwhile is ABORTED, and the reverse).</summary>
    private SourceLock Lock(Source source)
    {
        var replication = driver.Locks.Acquire("replication source", source.Id);
        if (source.Kind == ReplicationSourceKind.Volume)
        {
            return new SourceLock(replication, null);
        }
        try
        {
            return new SourceLock(replication, driver.Locks.Acquire("volume group", source.Id));
        }
        catch
        {
            replication.Dispose();
            throw;
        }
    }

    private readonly record struct SourceLock(OperationLocks.Releaser Replication, OperationLocks.Releaser? Group) : IDisposable
    {
        public void Dispose()
        {
            Group?.Dispose();
            Replication.Dispose();
        }
    }

    /// <summary>Whether the source exists here: a volume by its row; a group by its row, or, at
    /// a backup site, by the replica volumes the receiver made in its consistency group.</summary>
    private bool Exists(Source source) => source.Kind == ReplicationSourceKind.Volume
        ? driver.State.FindVolume(source.Id) is not null
        : driver.State.FindVolumeGroup(source.Id) is not null || GroupMembers(source.Id).Count > 0;

    private void RequireExists(Source source)
    {
        if (!Exists(source))
        {
            throw new RpcException(StatusCode.NotFound, $"{source} does not exist");
        }
    }

    /// <summary>For the transitions and GetVolumeReplicationInfo: the source must exist and be
    /// replicated at this site.</summary>
    private void RequireReplicated(Source source)
    {
        if (!driver.Replication.IsReplicated(source.Id))
        {
            RequireExists(source);
            throw new RpcException(StatusCode.FailedPrecondition, $"replication of {source} is not enabled at this site; enable it first");
        }
    }

    /// <summary>
    /// The volumes an enable replicates, checked: they must exist and form one whole consistency
    /// group. A single volume must be in no named group (its group's other volumes would be
    /// left out of an order they share); a volume group must have finished its create and have
    /// at least one volume.
    /// </summary>
    private IReadOnlyList<string> RequireReplicable(Source source)
    {
        RequireExists(source);
        if (source.Kind == ReplicationSourceKind.Volume)
        {
            var group = driver.Engine.Volumes.Single(v => v.Id == source.Id).ConsistencyGroup;
            if (group is not null)
            {
                throw new RpcException(StatusCode.FailedPrecondition,
                    $"{source} is in consistency group '{group}' with other volumes; replicate that volume group instead, so all its volumes keep one order");
            }
            return [source.Id];
        }
        if (driver.State.FindVolumeGroup(source.Id) is { PendingVolumeIds: not null })
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"{source} has not finished being created; repeat its CreateVolumeGroup first");
        }
        var members = GroupMembers(source.Id);
        if (members.Count == 0)
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"{source} has no volumes; add volumes before enabling replication");
        }
        return members;
    }

    private List<string> GroupMembers(string groupId) =>
        driver.Engine.Volumes.Where(v => v.ConsistencyGroup == groupId).Select(v => v.Id).Order(StringComparer.Ordinal).ToList();
}
