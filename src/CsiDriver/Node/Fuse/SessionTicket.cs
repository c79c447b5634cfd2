using System.Text.Json;

namespace CsiDriver.Node.Fuse;

/// <summary>
/// What the session holder keeps beside a FUSE device descriptor, opaque to the holder: enough
/// for a later csidriver to serve the session again without an INIT (the kernel sends INIT once
/// per mount). Stored under the session's mount point, which is unique on the host and lies in
/// the data directory, so one holder can serve several csidriver data directories. Format: UTF-8
/// JSON with a version; a ticket of another version is not taken back (see docs/formats.md).
/// </summary>
public sealed record SessionTicket(string VolumeId, string MountPoint, bool ReadOnly, uint Minor, bool KernelResends)
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    public FuseTerms Terms => new(Minor, KernelResends);

    public byte[] Encode() => JsonSerializer.SerializeToUtf8Bytes(this);

    /// <summary>The ticket in <paramref name="bytes"/>, or null when it is not one this csidriver reads.</summary>
    public static SessionTicket? Decode(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var ticket = JsonSerializer.Deserialize<SessionTicket>(bytes);
            return ticket is { Version: CurrentVersion, VolumeId.Length: > 0, MountPoint.Length: > 0 } ? ticket : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
