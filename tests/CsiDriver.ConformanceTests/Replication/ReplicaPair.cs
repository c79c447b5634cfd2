using CsiDriver.Engine;
using CsiDriver.TestSupport;
using CsiDriver.TestSupport.Consistency;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>
/// The two live replicas at the backup, read over its NBD socket (read-only exports) while
/// batches keep being applied. A read is not atomic against the applier (the engine's reads take
/// no lock), so each check reads the whole mirror ring first and the whole primary ring after:
/// since the backup is a prefix of the main site at every instant, a mirror record n read first
/// means primary record n was already applied, and the primary ring read later holds n or newer.
/// A <see cref="ConsistencyProblemKind.MirrorAhead"/> report is therefore a real violation of
/// the replicas' consistency, never an artefact of reading them live. Gaps are not judged here
/// (a ring read while it changes can look gappy); whole-image checks use backup snapshots.
/// </summary>
public sealed class ReplicaPair : IAsyncDisposable
{
    private readonly NbdBlockDevice _primary;
    private readonly NbdBlockDevice _mirror;

    private ReplicaPair(NbdBlockDevice primary, NbdBlockDevice mirror)
    {
        _primary = primary;
        _mirror = mirror;
    }

    /// <param name="readOnly">Whether the exports must be read-only (replicas) or writable (promoted).</param>
    public static async Task<ReplicaPair> OpenAsync(string nbdSocket, string primaryId, string mirrorId, bool readOnly = true)
    {
        var primary = await NbdBlockDevice.OpenAsync(nbdSocket, primaryId);
        try
        {
            var mirror = await NbdBlockDevice.OpenAsync(nbdSocket, mirrorId);
            Assert.True(primary.IsReadOnly == readOnly && mirror.IsReadOnly == readOnly,
                readOnly ? "a replica at the backup is exported writable" : "a promoted volume is still exported read-only");
            return new ReplicaPair(primary, mirror);
        }
        catch
        {
            await primary.DisposeAsync();
            throw;
        }
    }

    /// <summary>Mirror first, then primary; each ring in one NBD read.</summary>
    public async Task<ConsistencyReport> CheckAsync()
    {
        var layout = ReplicatedGroup.Layout;
        var mirror = await CaptureAsync(_mirror, layout);
        var primary = await CaptureAsync(_primary, layout);
        return await ConsistencyChecker.CheckAsync(primary, mirror, layout);
    }

    public async ValueTask DisposeAsync()
    {
        await _primary.DisposeAsync();
        await _mirror.DisposeAsync();
    }

    private static async Task<IBlockDevice> CaptureAsync(NbdBlockDevice device, TransactionLayout layout)
    {
        var image = new byte[layout.DeviceBytes];
        await device.ReadAsync(0, image);
        return new CapturedImage(device.Name, image);
    }

    /// <summary>A ring as it was read, for the checker to scan at leisure.</summary>
    private sealed class CapturedImage(string name, byte[] image) : IBlockDevice
    {
        public string Name => name;

        public long Size => image.Length;

        public bool IsReadOnly => true;

        public ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            image.AsMemory((int)offset, buffer.Length).CopyTo(buffer);
            return ValueTask.CompletedTask;
        }

        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken = default) => throw ReadOnly();

        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) => throw ReadOnly();

        public ValueTask WriteZeroesAsync(long offset, long length, bool fua, CancellationToken cancellationToken = default) => throw ReadOnly();

        private ReadOnlyVolumeException ReadOnly() => new(name);
    }
}
