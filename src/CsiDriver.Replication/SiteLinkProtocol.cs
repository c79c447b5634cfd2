using CsiDriver.Engine;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;
using Formation.SiteLink.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CsiDriver.Replication;

/// <summary>
/// The site link's wire constants and the one place where its messages turn into the
/// replication's and the engine's types and back (proto/sitelink/sitelink.proto describes the
/// protocol). A message that breaks the protocol is a <see cref="MalformedMessageException"/>.
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

    public static MethodDescriptor FenceMethod => Service.FindMethodByName("Fence");

    /// <summary>Refuses a peer outside [MinCompatibleVersion, CurrentVersion].</summary>
    /// <exception cref="IncompatiblePeerException">It is outside.</exception>
    public static void CheckVersion(uint peerVersion)
    {
        if (peerVersion < MinCompatibleVersion || peerVersion > CurrentVersion)
        {
            throw new IncompatiblePeerException(
                $"site-link protocol version {peerVersion} is incompatible: this site speaks versions {MinCompatibleVersion} to {CurrentVersion}; upgrade the older site");
        }
    }

    public static Open ToWire(StreamRequest request)
    {
        var open = new Open
        {
            ProtocolVersion = CurrentVersion,
            ReplicationId = request.ReplicationId,
            Mode = ToWire(request.Mode),
            GroupName = request.GroupName ?? "",
            SiteId = request.SiteId,
            SiteAddress = request.SiteAddress ?? "",
            CommonCutSequence = request.CommonCutSequence,
            Epoch = request.Epoch,
        };
        open.Volumes.AddRange(request.Volumes.Select(ToWire));
        return open;
    }

    public static ReplicaVolume ToWire(VolumeDescription volume) => new()
    {
        VolumeId = volume.VolumeId, SizeBytes = volume.SizeBytes, Name = volume.Name, AccessType = volume.AccessType, FsType = volume.FsType,
    };

    /// <summary>The request an Open makes, checked: a version this build speaks, an id, volumes
    /// with valid ids and sizes (exactly one in per-volume mode), a valid group name.</summary>
    public static StreamRequest FromWire(Open open)
    {
        CheckVersion(open.ProtocolVersion);
        if (open.ReplicationId.Length == 0 || open.Volumes.Count == 0)
        {
            throw new MalformedMessageException("Open needs a replication_id and at least one volume");
        }
        var mode = FromWire(open.Mode);
        if (mode == ReplicationModeKind.PerVolume && open.Volumes.Count != 1)
        {
            throw new MalformedMessageException("a per-volume Open names exactly one volume");
        }
        if (open.Volumes.FirstOrDefault(v => !VolumeIds.IsValid(v.VolumeId) || v.SizeBytes <= 0) is { } invalid)
        {
            throw new MalformedMessageException($"Open names volume '{invalid.VolumeId}' of {invalid.SizeBytes} bytes");
        }
        if (open.GroupName.Length > 0 && !VolumeIds.IsValid(open.GroupName))
        {
            throw new MalformedMessageException($"consistency group '{open.GroupName}' is not a valid name");
        }
        return new StreamRequest(
            open.ReplicationId, mode, open.GroupName.Length == 0 ? null : open.GroupName,
            open.Volumes.Select(v => new VolumeDescription(v.VolumeId, v.SizeBytes, v.Name, v.AccessType, v.FsType)).ToList(),
            open.SiteId, open.SiteAddress.Length == 0 ? null : open.SiteAddress, open.CommonCutSequence, open.Epoch);
    }

    /// <summary>A batch of journal records as the wire carries it: payloads are wrapped, not copied.</summary>
    public static Batch ToWire(JournalBatch batch)
    {
        var wire = new Batch { AfterSequence = batch.AfterSequence, LastSequence = batch.LastSequence, SourceTimestampMicros = batch.SourceTimestampMicros };
        foreach (var record in batch.Records)
        {
            wire.Updates.Add(ToWire(record.VolumeId!, record.Kind, record.Offset, record.Length, record.Payload));
        }
        return wire;
    }

    public static Chunks ToWire(IEnumerable<ReplicaUpdate> updates)
    {
        var chunks = new Chunks();
        chunks.Updates.AddRange(updates.Select(u => ToWire(u.VolumeId, u.Kind, u.Offset, u.Length, u.Payload)));
        return chunks;
    }

    private static Update ToWire(string volumeId, JournalRecordKind kind, long offset, long length, ReadOnlyMemory<byte> payload) => new()
    {
        VolumeId = volumeId,
        Kind = kind switch
        {
            JournalRecordKind.Write => UpdateKind.Write,
            JournalRecordKind.Trim => UpdateKind.Trim,
            JournalRecordKind.WriteZeroes => UpdateKind.WriteZeroes,
            JournalRecordKind.Resize => UpdateKind.Resize,
            _ => throw new ArgumentException($"record kind {kind} is not replicated", nameof(kind)),
        },
        Offset = offset,
        Length = length,
        Payload = payload.IsEmpty ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(payload),
    };

    /// <summary>The update as the engine applies it to this site's volume <paramref name="volumeId"/>:
    /// the payload is the received buffer, not a copy.</summary>
    public static ReplicaUpdate FromWire(Update update, string volumeId)
    {
        var kind = update.Kind switch
        {
            UpdateKind.Write => JournalRecordKind.Write,
            UpdateKind.Trim => JournalRecordKind.Trim,
            UpdateKind.WriteZeroes => JournalRecordKind.WriteZeroes,
            UpdateKind.Resize => JournalRecordKind.Resize,
            _ => throw new MalformedMessageException($"update of unknown kind {update.Kind}"),
        };
        if (update.Offset < 0 || update.Length < 0 || (kind == JournalRecordKind.Write && update.Payload.Length != update.Length))
        {
            throw new MalformedMessageException(
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
            throw new MalformedMessageException($"chunk set of volume '{set.VolumeId}' has {set.Offsets.Count} offsets and {set.Lengths.Count} lengths");
        }
        return set.Offsets.Zip(set.Lengths, (offset, length) => new ChunkRange(offset, length));
    }

    /// <summary>What GetRole answers: ROLE_NONE for a replication this site does not know.</summary>
    public static Role ToWire(ReplicationRole? role) => role switch
    {
        ReplicationRole.Primary => Role.Primary,
        ReplicationRole.Secondary => Role.Secondary,
        _ => Role.None,
    };

    public static ReplicationRole? FromWire(Role role) => role switch
    {
        Role.Primary => ReplicationRole.Primary,
        Role.Secondary => ReplicationRole.Secondary,
        _ => null,
    };

    private static ReplicationMode ToWire(ReplicationModeKind mode) =>
        mode == ReplicationModeKind.PerVolume ? ReplicationMode.PerVolume : ReplicationMode.Group;

    private static ReplicationModeKind FromWire(ReplicationMode mode) => mode switch
    {
        ReplicationMode.Group => ReplicationModeKind.Group,
        ReplicationMode.PerVolume => ReplicationModeKind.PerVolume,
        _ => throw new MalformedMessageException($"replication mode {mode} is unknown"),
    };
}
