using CsiDriver.Engine;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;
using CsiDriver.Rpc;
using Formation.SiteLink.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CsiDriver.Replication;

/// <summary>
/// The site link's wire constants and the one place where its messages turn into engine
/// types and back (proto/sitelink/sitelink.proto describes the protocol).
/// </summary>
public static class SiteLinkProtocol
{
    /// <summary>Version this build speaks; sent in every Open and GetRole.</summary>
    public const uint CurrentVersion = 2;

    /// <summary>Oldest peer version this build still understands.</summary>
    public const uint MinCompatibleVersion = 1;

    /// <summary>Payload bytes per Chunks or Batch message. With at most
    /// <see cref="MaxUpdatesPerMessage"/> updates of at most ~160 bytes of framing each (a
    /// 128-character volume id and the numbers), a message stays under gRPC's 4 MiB limit; large
    /// messages mean fewer durable applies (one fsync each) at the backup.</summary>
    public const int MaxPayloadPerMessage = 3 << 20;

    public const int MaxUpdatesPerMessage = 4096;

    /// <summary>Bytes a shipper may have sent and not yet had acknowledged. The backup joins
    /// what is queued into one record, so while one joined batch is applied about half of this
    /// arrives for the next. Not larger: everything in flight is live memory at the backup, and
    /// a larger live set of short-lived buffers costs page faults and GC work per byte (measured:
    /// 64 MiB took more CPU per byte than 16 MiB). The site link's HTTP/2 receive windows are as
    /// large, so on a long link only acknowledgements pace the shipper, not HTTP/2 flow control.</summary>
    public const int MaxInflightBytes = 16 << 20;

    public static ServiceDescriptor Service { get; } = SitelinkReflection.Descriptor.Services.Single(s => s.Name == "SiteLink");

    public static MethodDescriptor ReplicateMethod => Service.FindMethodByName("Replicate");

    public static MethodDescriptor GetRoleMethod => Service.FindMethodByName("GetRole");

    public static MethodDescriptor LocateMethod => Service.FindMethodByName("Locate");

    /// <summary>Refuses a peer outside [MinCompatibleVersion, CurrentVersion].</summary>
    public static void CheckVersion(uint peerVersion)
    {
        if (peerVersion < MinCompatibleVersion || peerVersion > CurrentVersion)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"site-link protocol version {peerVersion} is incompatible: this site speaks versions {MinCompatibleVersion} to {CurrentVersion}; upgrade the older site");
        }
    }

    public static Update ToWire(ReplicaUpdate update) => new()
    {
        VolumeId = update.VolumeId,
        Kind = update.Kind switch
        {
            JournalRecordKind.Write => UpdateKind.Write,
            JournalRecordKind.Trim => UpdateKind.Trim,
            JournalRecordKind.WriteZeroes => UpdateKind.WriteZeroes,
            JournalRecordKind.Resize => UpdateKind.Resize,
            _ => throw new ArgumentException($"record kind {update.Kind} is not replicated", nameof(update)),
        },
        Offset = update.Offset,
        Length = update.Length,
        Payload = update.Payload.IsEmpty ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(update.Payload),
    };

    /// <summary>The engine's form of <paramref name="update"/>, for this site's volume <paramref name="volumeId"/>.</summary>
    public static ReplicaUpdate FromWire(Update update, string volumeId)
    {
        var kind = update.Kind switch
        {
            UpdateKind.Write => JournalRecordKind.Write,
            UpdateKind.Trim => JournalRecordKind.Trim,
            UpdateKind.WriteZeroes => JournalRecordKind.WriteZeroes,
            UpdateKind.Resize => JournalRecordKind.Resize,
            _ => throw new RpcException(StatusCode.InvalidArgument, $"update of unknown kind {update.Kind}"),
        };
        if (update.Offset < 0 || update.Length < 0 || (kind == JournalRecordKind.Write && update.Payload.Length != update.Length))
        {
            throw new RpcException(StatusCode.InvalidArgument,
                $"update {kind} [{update.Offset}, +{update.Length}) of volume '{update.VolumeId}' carries {update.Payload.Length} payload bytes");
        }
        return new ReplicaUpdate(volumeId, kind, update.Offset, update.Length, update.Payload.Memory);
    }

    public static ChunkSet ToWire(string volumeId, IEnumerable<ChunkRange> ranges)
    {
        var set = new ChunkSet { VolumeId = volumeId };
        foreach (var range in ranges)
        {
            set.Offsets.Add(range.Offset);
            set.Lengths.Add(range.Length);
        }
        return set;
    }

    public static IEnumerable<ChunkRange> FromWire(ChunkSet set)
    {
        if (set.Offsets.Count != set.Lengths.Count)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"chunk set of volume '{set.VolumeId}' has {set.Offsets.Count} offsets and {set.Lengths.Count} lengths");
        }
        return set.Offsets.Zip(set.Lengths, (offset, length) => new ChunkRange(offset, length));
    }

    public static ReplicationMode ToWire(ReplicationModeKind mode) =>
        mode == ReplicationModeKind.PerVolume ? ReplicationMode.PerVolume : ReplicationMode.Group;

    public static ReplicationModeKind FromWire(ReplicationMode mode) => mode switch
    {
        ReplicationMode.Group => ReplicationModeKind.Group,
        ReplicationMode.PerVolume => ReplicationModeKind.PerVolume,
        _ => throw new RpcException(StatusCode.InvalidArgument, $"replication mode {mode} is unknown"),
    };
}
