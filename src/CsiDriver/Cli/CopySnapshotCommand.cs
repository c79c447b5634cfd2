using System.CommandLine;
using System.Diagnostics;
using Csi.V1;
using CsiDriver.Engine.Nbd;
using CsiDriver.Rpc;
using Google.Protobuf.Reflection;

namespace CsiDriver.Cli;

/// <summary>
/// `csidriver copy-snapshot`: a backup without a backup product. Copies a snapshot of a running
/// driver into a file or block device: whole (the snapshot's allocated ranges, the rest left
/// zero), or with <c>--since BASE</c> incrementally, onto a copy of the base snapshot, writing
/// only the ranges that changed between the two (SnapshotMetadata over the CSI socket, the data
/// over the driver's NBD socket, where snapshots are exported read-only). Interrupted, it is
/// simply run again: every range it writes holds the target's bytes, whatever was there.
/// Exit code 0: copied; 1: refused or failed (the message says why).
/// </summary>
public static class CopySnapshotCommand
{
    private const int PieceBytes = 1 << 20;
    private static readonly ServiceDescriptor Metadata = CsiReflection.Descriptor.Services.Single(s => s.Name == "SnapshotMetadata");

    public static Command Build()
    {
        var endpoint = new Option<string>("--endpoint")
        {
            Description = "The driver's CSI endpoint, e.g. unix:///var/lib/kubelet/plugins/formation.csi.dev/csi.sock",
            Required = true,
        };
        var nbd = new Option<string>("--nbd-endpoint")
        {
            Description = "The driver's NBD socket, unix:///path (nbd.sock in its data directory)",
            Required = true,
        };
        var snapshot = new Option<string>("--snapshot") { Description = "The snapshot to copy (its CSI snapshot id)", Required = true };
        var since = new Option<string?>("--since")
        {
            Description = "A base snapshot of the same volume that --to already holds: copy only what changed since it",
        };
        var to = new Option<string>("--to") { Description = "The file (created or resized to the snapshot) or device under /dev (already large enough) to write", Required = true };
        var command = new Command("copy-snapshot", "Copy a snapshot into a file or device, whole or only what changed since an earlier snapshot")
        {
            endpoint, nbd, snapshot, since, to,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            try
            {
                var copy = new Copy(Unix(result.GetValue(endpoint)!, "--endpoint"), Unix(result.GetValue(nbd)!, "--nbd-endpoint"), result.GetValue(to)!);
                var summary = await copy.RunAsync(result.GetValue(snapshot)!, result.GetValue(since), cancellationToken);
                Console.WriteLine(summary);
                return 0;
            }
            catch (Exception e) when (e is RpcException or IOException or UnauthorizedAccessException or ArgumentException or System.Net.Sockets.SocketException)
            {
                Console.Error.WriteLine($"copy-snapshot: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static string Unix(string uri, string option) =>
        ServerEndpoint.Parse(uri) is ServerEndpoint.UnixSocket socket
            ? socket.Path
            : throw new ArgumentException($"{option} must be a unix:// socket (got '{uri}')");

    private sealed class Copy(string csiSocket, string nbdSocket, string destination)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private TimeSpan _lastProgress;

        public async Task<string> RunAsync(string snapshotId, string? baseSnapshotId, CancellationToken ct)
        {
            using var grpc = GrpcClient.ForUnixSocket(csiSocket);
            await using var source = await NbdBlockDevice.OpenAsync(nbdSocket, snapshotId);
            var ranges = baseSnapshotId is null
                ? grpc.ServerStreamingAsync<GetMetadataAllocatedRequest, GetMetadataAllocatedResponse>(
                        Metadata.FindMethodByName("GetMetadataAllocated"), new GetMetadataAllocatedRequest { SnapshotId = snapshotId })
                    .Select(r => (r.VolumeCapacityBytes, r.BlockMetadata))
                : grpc.ServerStreamingAsync<GetMetadataDeltaRequest, GetMetadataDeltaResponse>(
                        Metadata.FindMethodByName("GetMetadataDelta"), new GetMetadataDeltaRequest { BaseSnapshotId = baseSnapshotId, TargetSnapshotId = snapshotId })
                    .Select(r => (r.VolumeCapacityBytes, r.BlockMetadata));
            await using var target = OpenDestination(baseSnapshotId is null);
            long copied = 0, count = 0, capacity = -1, end = 0;
            var buffer = new byte[PieceBytes];
            await foreach (var (volumeCapacity, page) in ranges.WithCancellation(ct))
            {
                if (capacity < 0)
                {
                    capacity = volumeCapacity;
                    Prepare(target, capacity, baseSnapshotId);
                }
                foreach (var range in page)
                {
                    if (baseSnapshotId is null)
                    {
                        await ZeroAsync(target, end, range.ByteOffset, ct);
                    }
                    for (var offset = range.ByteOffset; offset < range.ByteOffset + range.SizeBytes; offset += PieceBytes)
                    {
                        var piece = buffer.AsMemory(0, (int)Math.Min(PieceBytes, range.ByteOffset + range.SizeBytes - offset));
                        await source.ReadAsync(offset, piece, ct);
                        await RandomAccess.WriteAsync(target.SafeFileHandle, piece, offset, ct);
                        copied += piece.Length;
                        Progress(copied, capacity);
                    }
                    end = range.ByteOffset + range.SizeBytes;
                    count++;
                }
            }
            if (baseSnapshotId is null)
            {
                await ZeroAsync(target, end, capacity, ct);
            }
            target.Flush(flushToDisk: true);
            var what = baseSnapshotId is null ? "allocated" : $"changed since {baseSnapshotId}";
            return $"copied {snapshotId} to {destination}: {count} ranges {what}, {copied} of {capacity} bytes ({100.0 * copied / Math.Max(1, capacity):F2} %) in {_clock.Elapsed.TotalSeconds:F1} s";
        }

        /// <summary>A whole copy starts a regular file afresh (sparse: unwritten ranges read as
        /// zeroes); an incremental one writes into what holds the base.</summary>
        private FileStream OpenDestination(bool whole)
        {
            var mode = whole && !IsDevice(destination) ? FileMode.Create : FileMode.Open;
            if (!whole && !File.Exists(destination))
            {
                throw new IOException($"{destination} does not exist; an incremental copy writes onto a copy of the base snapshot");
            }
            return new FileStream(destination, mode, FileAccess.ReadWrite, FileShare.None, 1, System.IO.FileOptions.Asynchronous);
        }

        /// <summary>Sizes a file to the snapshot's capacity; a device must already be large enough.
        /// An incremental copy never shrinks what it writes onto (capacity only grows).</summary>
        private void Prepare(FileStream target, long capacity, string? baseSnapshotId)
        {
            if (IsDevice(destination))
            {
                if (target.Length < capacity)
                {
                    throw new IOException($"{destination} holds {target.Length} bytes; the snapshot needs {capacity}");
                }
                return;
            }
            if (baseSnapshotId is not null && target.Length > capacity)
            {
                throw new IOException($"{destination} holds {target.Length} bytes, more than the snapshot's {capacity}: it is not a copy of {baseSnapshotId}");
            }
            target.SetLength(capacity);
        }

        /// <summary>Zeroes [from, to) of a device (a fresh file reads zero there already).</summary>
        private async Task ZeroAsync(FileStream target, long from, long to, CancellationToken ct)
        {
            if (!IsDevice(destination))
            {
                return;
            }
            var zeroes = new byte[PieceBytes];
            for (var offset = from; offset < to; offset += PieceBytes)
            {
                await RandomAccess.WriteAsync(target.SafeFileHandle, zeroes.AsMemory(0, (int)Math.Min(PieceBytes, to - offset)), offset, ct);
            }
        }

        private void Progress(long copied, long capacity)
        {
            if (_clock.Elapsed - _lastProgress >= TimeSpan.FromSeconds(1))
            {
                _lastProgress = _clock.Elapsed;
                Console.Error.WriteLine($"copy-snapshot: {copied} bytes copied ({100.0 * copied / Math.Max(1, capacity):F1} % of the volume), {_clock.Elapsed.TotalSeconds:F0} s");
            }
        }

        /// <summary>A path under /dev is a device: never created, truncated or resized.</summary>
        private static bool IsDevice(string path) => Path.GetFullPath(path).StartsWith("/dev/", StringComparison.Ordinal);
    }
}
