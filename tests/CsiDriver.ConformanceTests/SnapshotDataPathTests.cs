using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using Xunit.Sdk;

namespace CsiDriver.ConformanceTests;

/// <summary>
/// Snapshots and clones end to end on the real kernel path: data written through a published
/// mount or block device, synced, cut by CreateSnapshot, changed afterwards; a volume restored
/// from the snapshot holds exactly the data of the cut, a clone the data of its own cut, and the
/// source keeps its later changes. The cuts are crash-consistent, so the tests sync first, as an
/// application quiesces before a snapshot; mounting the restored ext4 replays its journal.
/// </summary>
public sealed class SnapshotDataPathTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    private DriverWorkspace Workspace => fixture.Driver.Workspace;

    /// <summary>What a test attached and created, undone best-effort in its finally block.</summary>
    private sealed class Leftovers
    {
        public List<string> Volumes { get; } = [];

        public List<string> Snapshots { get; } = [];
    }

    /// <summary>Controller publish, stage, publish: the volume as a pod sees it.</summary>
    private async Task<string> AttachAsync(Volume volume, VolumeCapability capability, Leftovers leftovers, string pod = "pod-a")
    {
        leftovers.Volumes.Add(volume.VolumeId);
        await Csi.PublishAsync(volume, fixture.NodeId, capability);
        await Csi.StageAsync(Workspace, volume.VolumeId, capability);
        await Csi.PublishOnNodeAsync(Workspace, volume.VolumeId, capability, pod: pod);
        return NodeSteps.TargetPath(Workspace, volume.VolumeId, pod);
    }

    /// <summary>Unpublish and unstage from pod-a, stage and publish for pod-b: the next reads come
    /// from the engine, not from the previous attachment's page cache.</summary>
    private async Task<string> RestageAsync(string volumeId, VolumeCapability capability)
    {
        await Csi.UnpublishOnNodeAsync(Workspace, volumeId);
        await Csi.UnstageAsync(Workspace, volumeId);
        await Csi.StageAsync(Workspace, volumeId, capability);
        await Csi.PublishOnNodeAsync(Workspace, volumeId, capability, pod: "pod-b");
        return NodeSteps.TargetPath(Workspace, volumeId, "pod-b");
    }

    private async Task<Snapshot> SnapshotAsync(string volumeId, Leftovers leftovers)
    {
        var snapshot = await Csi.SnapshotAsync(volumeId, "cut");
        leftovers.Snapshots.Add(snapshot.SnapshotId);
        Assert.True(snapshot.ReadyToUse);
        return snapshot;
    }

    private async Task<Volume> CreateFromAsync(string purpose, VolumeContentSource source, VolumeCapability capability, Leftovers leftovers)
    {
        var volume = await Csi.CreateFromAsync(purpose, source, capability);
        leftovers.Volumes.Add(volume.VolumeId);
        return volume;
    }

    /// <summary>The teardown kubelet and the provisioner do, every step checked.</summary>
    private async Task TearDownAsync(Leftovers leftovers)
    {
        foreach (var volumeId in leftovers.Volumes.Distinct())
        {
            await Csi.CleanUpAsync(Workspace, volumeId, "pod-a", "pod-b");
            Assert.False(NodeSteps.IsMounted(NodeSteps.StagingPath(Workspace, volumeId)), $"{volumeId} is still staged");
            await Csi.UnpublishAsync(volumeId, fixture.NodeId);
            await Csi.DeleteVolume(volumeId);
        }
        foreach (var snapshotId in leftovers.Snapshots)
        {
            await Csi.DeleteSnapshot(snapshotId);
        }
    }

    /// <summary>Best effort after a failure, so a failed test leaves no mount or device behind:
    /// every leftover is tried; a node clean-up that fails fails the test afterwards.</summary>
    private async Task ForgetAsync(Leftovers leftovers)
    {
        var refused = new List<string>();
        foreach (var volumeId in leftovers.Volumes.Distinct())
        {
            try
            {
                await Csi.CleanUpAsync(Workspace, volumeId, "pod-a", "pod-b");
            }
            catch (FailException e)
            {
                refused.Add(e.Message);
            }
            await IgnoreFailure(() => Csi.UnpublishAsync(volumeId, fixture.NodeId));
            await IgnoreFailure(() => Csi.DeleteVolume(volumeId));
        }
        foreach (var snapshotId in leftovers.Snapshots)
        {
            await IgnoreFailure(() => Csi.DeleteSnapshot(snapshotId));
        }
        Assert.True(refused.Count == 0, string.Join("; ", refused));
    }

    private static async Task IgnoreFailure(Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (RpcException)
        {
        }
    }

    [Fact]
    public async Task An_ext4_volume_restored_or_cloned_holds_exactly_the_files_of_its_cut()
    {
        NodeSteps.RequireKernelPath();
        var capability = Volumes.Mount("ext4");
        var leftovers = new Leftovers();
        try
        {
            var source = await Csi.CreateAsync("cut-ext4", capability, 64 * Volumes.MiB);
            var sourcePath = await AttachAsync(source, capability, leftovers);
            var atSnapshot = new Dictionary<string, byte[]>
            {
                ["orders.db"] = FileTrees.RandomBytes(300_000, seed: 1),
                ["notes.txt"] = "written before the snapshot\n"u8.ToArray(),
                ["archive/2025.bin"] = FileTrees.RandomBytes(1_048_579, seed: 2),
                ["archive/deep/index.bin"] = FileTrees.RandomBytes(4096, seed: 3),
            };
            FileTrees.Write(sourcePath, atSnapshot);
            await NodeSteps.SyncFileSystemAsync(sourcePath);

            var snapshot = await SnapshotAsync(source.VolumeId, leftovers);

            // After the cut: one file rewritten (shorter), one deleted, two added.
            var later = new Dictionary<string, byte[]>(atSnapshot)
            {
                ["orders.db"] = FileTrees.RandomBytes(120_000, seed: 4),
                ["after.bin"] = FileTrees.RandomBytes(500_000, seed: 5),
                ["archive/2026.bin"] = FileTrees.RandomBytes(70_000, seed: 6),
            };
            later.Remove("notes.txt");
            File.Delete(Path.Combine(sourcePath, "notes.txt"));
            FileTrees.Write(sourcePath, later);
            await NodeSteps.SyncFileSystemAsync(sourcePath);

            var restored = await CreateFromAsync("cut-ext4-restored", Snapshots.OfSnapshot(snapshot.SnapshotId), capability, leftovers);
            Assert.Equal(source.CapacityBytes, restored.CapacityBytes);
            var restoredPath = await AttachAsync(restored, capability, leftovers);
            FileTrees.AssertHolds(atSnapshot, restoredPath, "volume restored from the snapshot");
            FileTrees.AssertHolds(later, sourcePath, "source after the snapshot");

            var clone = await CreateFromAsync("cut-ext4-clone", Snapshots.OfVolume(source.VolumeId), capability, leftovers);
            var clonePath = await AttachAsync(clone, capability, leftovers);
            FileTrees.AssertHolds(later, clonePath, "clone of the source");

            // Each copy goes its own way: writes to the copies must not reach the source's blocks,
            // which a fresh stage of the source (no page cache) shows.
            File.WriteAllText(Path.Combine(clonePath, "clone-only.txt"), "clone");
            File.WriteAllText(Path.Combine(restoredPath, "restored-only.txt"), "restored");
            var sourceLast = new Dictionary<string, byte[]>(later) { ["orders.db"] = FileTrees.RandomBytes(8192, seed: 7) };
            FileTrees.Write(sourcePath, sourceLast);
            await NodeSteps.SyncFileSystemAsync(clonePath);
            await NodeSteps.SyncFileSystemAsync(restoredPath);
            var sourceAgain = await RestageAsync(source.VolumeId, capability);
            FileTrees.AssertHolds(sourceLast, sourceAgain, "source staged again");
            FileTrees.AssertHolds(new Dictionary<string, byte[]>(later) { ["clone-only.txt"] = "clone"u8.ToArray() }, clonePath, "clone after its own write");

            await TearDownAsync(leftovers);
        }
        finally
        {
            await ForgetAsync(leftovers);
        }
    }

    [Fact]
    public async Task An_ext4_snapshot_restored_into_a_larger_volume_has_its_files_and_the_larger_size()
    {
        // spec: CreateVolume — a volume larger than its snapshot is refused with OUT_OF_RANGE, or
        // "MUST provide a volume that, when presented to a workload by NodePublish call, has both
        // the requested (larger) size and contains data from the snapshot", the plugin resizing the
        // file system "at (or before) the NodePublish call". Formation takes the second way, so
        // OUT_OF_RANGE here is a failure.
        NodeSteps.RequireKernelPath();
        var capability = Volumes.Mount("ext4");
        var leftovers = new Leftovers();
        try
        {
            var source = await Csi.CreateAsync("grow-ext4", capability, 64 * Volumes.MiB);
            var sourcePath = await AttachAsync(source, capability, leftovers);
            var files = new Dictionary<string, byte[]> { ["data.bin"] = FileTrees.RandomBytes(2_000_000, seed: 21) };
            FileTrees.Write(sourcePath, files);
            await NodeSteps.SyncFileSystemAsync(sourcePath);
            var snapshot = await SnapshotAsync(source.VolumeId, leftovers);

            var request = Snapshots.VolumeFrom(Volumes.UniqueName("grow-ext4-restored"), Snapshots.OfSnapshot(snapshot.SnapshotId), capability, requiredBytes: 192 * Volumes.MiB);
            var larger = (await Csi.CreateVolume(request)).Volume;
            leftovers.Volumes.Add(larger.VolumeId);
            Assert.True(larger.CapacityBytes >= 192 * Volumes.MiB, $"asked for 192 MiB, got {larger.CapacityBytes} bytes");

            var largerPath = await AttachAsync(larger, capability, leftovers);
            FileTrees.AssertHolds(files, largerPath, "larger volume restored from the snapshot");
            var stats = await Csi.NodeGetVolumeStats(new() { VolumeId = larger.VolumeId, VolumePath = largerPath });
            var total = stats.Usage.Single(u => u.Unit == VolumeUsage.Types.Unit.Bytes).Total;
            Assert.True(total > 128 * Volumes.MiB, $"the restored file system has {total} bytes: it was not grown to its 192 MiB volume");

            await TearDownAsync(leftovers);
        }
        finally
        {
            await ForgetAsync(leftovers);
        }
    }

    [Fact]
    public async Task A_block_volume_restored_or_cloned_holds_exactly_the_bytes_of_its_cut()
    {
        NodeSteps.RequireKernelPath();
        var capability = Volumes.Block();
        var leftovers = new Leftovers();
        const long At = 3 * Volumes.MiB;
        const long Far = 10 * Volumes.MiB;
        try
        {
            var source = await Csi.CreateAsync("cut-block", capability, 16 * Volumes.MiB);
            var sourcePath = await AttachAsync(source, capability, leftovers);
            var before = FileTrees.RandomBytes(1 << 20, seed: 11);
            FileTrees.WriteDurably(sourcePath, At, before);

            var snapshot = await SnapshotAsync(source.VolumeId, leftovers);

            // After the cut: half of the range overwritten, and a range that was zeros written.
            var overwrite = FileTrees.RandomBytes(256 << 10, seed: 12);
            var farAway = FileTrees.RandomBytes(64 << 10, seed: 13);
            FileTrees.WriteDurably(sourcePath, At + (128 << 10), overwrite);
            FileTrees.WriteDurably(sourcePath, Far, farAway);
            var after = (byte[])before.Clone();
            overwrite.CopyTo(after, 128 << 10);

            var restored = await CreateFromAsync("cut-block-restored", Snapshots.OfSnapshot(snapshot.SnapshotId), capability, leftovers);
            var restoredPath = await AttachAsync(restored, capability, leftovers);
            Assert.Equal(before, FileTrees.ReadAt(restoredPath, At, before.Length));
            Assert.Equal(new byte[farAway.Length], FileTrees.ReadAt(restoredPath, Far, farAway.Length));

            var clone = await CreateFromAsync("cut-block-clone", Snapshots.OfVolume(source.VolumeId), capability, leftovers);
            var clonePath = await AttachAsync(clone, capability, leftovers);
            Assert.Equal(after, FileTrees.ReadAt(clonePath, At, after.Length));
            Assert.Equal(farAway, FileTrees.ReadAt(clonePath, Far, farAway.Length));

            // Writing to the clone leaves the source as it was, read through a fresh stage.
            FileTrees.WriteDurably(clonePath, At, FileTrees.RandomBytes(before.Length, seed: 14));
            var sourceAgain = await RestageAsync(source.VolumeId, capability);
            Assert.Equal(after, FileTrees.ReadAt(sourceAgain, At, after.Length));
            Assert.Equal(farAway, FileTrees.ReadAt(sourceAgain, Far, farAway.Length));

            await TearDownAsync(leftovers);
        }
        finally
        {
            await ForgetAsync(leftovers);
        }
    }
}
