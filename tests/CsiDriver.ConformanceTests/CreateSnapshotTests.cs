using System.Text;
using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>CreateSnapshot: what a snapshot reports, idempotency by name, the refusals of the error
/// table, and a snapshot's life after its source volume is gone.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class CreateSnapshotTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private static readonly TimeSpan ClockTolerance = TimeSpan.FromSeconds(5);

    private CsiClient Csi => fixture.Csi;

    [Fact]
    public async Task A_snapshot_is_ready_at_once_with_the_source_size_and_the_time_it_was_cut()
    {
        var source = await Csi.CreateAsync("snap-source", requiredBytes: 12 * Volumes.MiB);
        var before = DateTimeOffset.UtcNow;

        var snapshot = (await Csi.CreateSnapshot(Snapshots.Request(Volumes.UniqueName("snap"), source.VolumeId))).Snapshot;

        var after = DateTimeOffset.UtcNow;
        Assert.InRange(Encoding.UTF8.GetByteCount(snapshot.SnapshotId), 1, 128);
        Assert.Equal(source.VolumeId, snapshot.SourceVolumeId);
        Assert.Equal(source.CapacityBytes, snapshot.SizeBytes);
        // spec: ready_to_use "SHOULD be true after the snapshot is cut" for SPs with no post-processing.
        Assert.True(snapshot.ReadyToUse);
        Assert.NotNull(snapshot.CreationTime);
        Assert.InRange(snapshot.CreationTime.ToDateTimeOffset(), before - ClockTolerance, after + ClockTolerance);
        Assert.Empty(snapshot.GroupSnapshotId);
    }

    [Fact]
    public async Task The_same_name_and_source_return_the_same_snapshot()
    {
        // spec: CreateSnapshot "MUST be idempotent": a repeat replies with the corresponding response,
        // the creation_time of the cut included.
        var source = await Csi.CreateAsync("snap-twice-source", requiredBytes: 4 * Volumes.MiB);
        var request = Snapshots.Request(Volumes.UniqueName("snap-twice"), source.VolumeId);

        var first = (await Csi.CreateSnapshot(request)).Snapshot;
        await Task.Delay(TimeSpan.FromMilliseconds(20));
        var second = (await Csi.CreateSnapshot(request)).Snapshot;

        Assert.Equal(first, second);
    }

    [Fact]
    public async Task The_same_name_with_another_source_already_exists()
    {
        // spec: CreateSnapshot Errors — "Snapshot already exists but is incompatible: 6 ALREADY_EXISTS".
        var one = await Csi.CreateAsync("snap-one", requiredBytes: 4 * Volumes.MiB);
        var other = await Csi.CreateAsync("snap-other", requiredBytes: 4 * Volumes.MiB);
        var name = Volumes.UniqueName("snap-taken");
        var first = (await Csi.CreateSnapshot(Snapshots.Request(name, one.VolumeId))).Snapshot;

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Csi.CreateSnapshot(Snapshots.Request(name, other.VolumeId)));

        Assert.Equal(one.VolumeId, (await Csi.GetSnapshot(first.SnapshotId)).Snapshot.SourceVolumeId);
    }

    [Fact]
    public async Task Different_names_give_different_snapshots_of_one_volume()
    {
        var source = await Csi.CreateAsync("snap-many-source", requiredBytes: 4 * Volumes.MiB);

        var first = await Csi.SnapshotAsync(source.VolumeId);
        var second = await Csi.SnapshotAsync(source.VolumeId);

        Assert.NotEqual(first.SnapshotId, second.SnapshotId);
    }

    [Fact]
    public async Task Missing_name_or_source_are_invalid_arguments()
    {
        var source = await Csi.CreateAsync("snap-missing", requiredBytes: 4 * Volumes.MiB);

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateSnapshot(Snapshots.Request("", source.VolumeId)));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateSnapshot(Snapshots.Request(Volumes.UniqueName("snap-no-source"), "")));
    }

    [Fact]
    public async Task A_name_with_a_control_character_is_an_invalid_argument()
    {
        // spec: CreateSnapshotRequest.name — any Unicode string within the 128-byte limit except the
        // banned control characters U+0000-U+0008, U+000B, U+000C, U+000E-U+001F, U+007F-U+009F.
        var source = await Csi.CreateAsync("snap-bad-name", requiredBytes: 4 * Volumes.MiB);

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateSnapshot(Snapshots.Request("bad\u0007snap-" + Guid.NewGuid().ToString("N"), source.VolumeId)));
        Assert.Empty(await Csi.ListAllSnapshotsAsync(new ListSnapshotsRequest { SourceVolumeId = source.VolumeId }));
    }

    [Fact]
    public async Task Any_name_of_up_to_128_bytes_is_allowed()
    {
        var source = await Csi.CreateAsync("snap-long-name", requiredBytes: 4 * Volumes.MiB);

        var longest = Guid.NewGuid().ToString("N") + new string('\u00e9', 48);
        Assert.Equal(128, Encoding.UTF8.GetByteCount(longest));
        var snapshot = (await Csi.CreateSnapshot(Snapshots.Request(longest, source.VolumeId))).Snapshot;
        Assert.Equal(snapshot.SnapshotId, (await Csi.CreateSnapshot(Snapshots.Request(longest, source.VolumeId))).Snapshot.SnapshotId);
    }

    [Fact]
    public async Task Unknown_parameters_are_refused_and_orchestrator_parameters_accepted()
    {
        var source = await Csi.CreateAsync("snap-parameters", requiredBytes: 4 * Volumes.MiB);
        var unknown = Snapshots.Request(Volumes.UniqueName("snap-unknown"), source.VolumeId);
        unknown.Parameters["retention"] = "7d";

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateSnapshot(unknown));
        Assert.Empty(await Csi.ListAllSnapshotsAsync(new ListSnapshotsRequest { SourceVolumeId = source.VolumeId }));

        // The external-snapshotter's --extra-create-metadata adds these keys to every request.
        var fromOrchestrator = Snapshots.Request(Volumes.UniqueName("snap-metadata"), source.VolumeId);
        fromOrchestrator.Parameters["csi.storage.k8s.io/volumesnapshot/name"] = "nightly";
        fromOrchestrator.Parameters["csi.storage.k8s.io/volumesnapshot/namespace"] = "shop";
        fromOrchestrator.Parameters["csi.storage.k8s.io/volumesnapshotcontent/name"] = "snapcontent-0001";
        var snapshot = (await Csi.CreateSnapshot(fromOrchestrator)).Snapshot;
        Assert.True(snapshot.ReadyToUse);
    }

    [Fact]
    public async Task Secrets_are_accepted()
    {
        var source = await Csi.CreateAsync("snap-secrets", requiredBytes: 4 * Volumes.MiB);
        var request = Snapshots.Request(Volumes.UniqueName("snap-secrets"), source.VolumeId);
        request.Secrets["password"] = "not-needed-by-this-driver";

        var snapshot = (await Csi.CreateSnapshot(request)).Snapshot;

        Assert.Equal(source.VolumeId, snapshot.SourceVolumeId);
    }

    [Fact]
    public async Task A_snapshot_keeps_the_size_of_its_cut_after_the_source_grows()
    {
        var source = await Csi.CreateAsync("snap-grow-source", requiredBytes: 8 * Volumes.MiB);
        var small = await Csi.SnapshotAsync(source.VolumeId, "snap-small");

        await Csi.ControllerExpandVolume(new ControllerExpandVolumeRequest
        {
            VolumeId = source.VolumeId,
            CapacityRange = new CapacityRange { RequiredBytes = 24 * Volumes.MiB },
        });
        var large = await Csi.SnapshotAsync(source.VolumeId, "snap-large");

        Assert.Equal(8 * Volumes.MiB, (await Csi.GetSnapshot(small.SnapshotId)).Snapshot.SizeBytes);
        Assert.Equal(24 * Volumes.MiB, large.SizeBytes);
        Assert.Equal(8 * Volumes.MiB, (await Csi.CreateFromAsync("snap-small-restored", Snapshots.OfSnapshot(small.SnapshotId))).CapacityBytes);
        Assert.Equal(24 * Volumes.MiB, (await Csi.CreateFromAsync("snap-large-restored", Snapshots.OfSnapshot(large.SnapshotId))).CapacityBytes);
    }

    [Fact]
    public async Task An_unknown_source_volume_is_not_found()
    {
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.CreateSnapshot(Snapshots.Request(Volumes.UniqueName("snap-ghost"), Snapshots.NeverCreated())));
    }

    [Fact]
    public async Task A_snapshot_stays_usable_after_its_source_volume_is_deleted()
    {
        // spec: DeleteVolume — a plugin that deletes a volume without affecting its snapshots keeps
        // them "fully operational and acceptable as sources for new volumes as well as appear on
        // ListSnapshot calls once the volume has been deleted".
        var source = await Csi.CreateAsync("snap-orphan-source", requiredBytes: 8 * Volumes.MiB);
        var snapshot = await Csi.SnapshotAsync(source.VolumeId, "snap-orphan");

        await Csi.DeleteVolume(source.VolumeId);

        Assert.Equal(snapshot, (await Csi.GetSnapshot(snapshot.SnapshotId)).Snapshot);
        Assert.Equal([snapshot], await Csi.ListAllSnapshotsAsync(new ListSnapshotsRequest { SnapshotId = snapshot.SnapshotId }));
        Assert.Contains(snapshot, await Csi.ListAllSnapshotsAsync());
        var restored = await Csi.CreateFromAsync("snap-orphan-restored", Snapshots.OfSnapshot(snapshot.SnapshotId));
        Assert.Equal(8 * Volumes.MiB, restored.CapacityBytes);
    }

    [Fact]
    public async Task Racing_creates_of_one_name_end_with_one_snapshot()
    {
        // spec: CreateSnapshot Errors — "Operation pending for snapshot: 10 ABORTED" MAY reject
        // secondary calls.
        var source = await Csi.CreateAsync("snap-race-source", requiredBytes: 4 * Volumes.MiB);
        var request = Snapshots.Request(Volumes.UniqueName("snap-race"), source.VolumeId);
        var calls = Enumerable.Range(0, 8).Select(async _ =>
        {
            try
            {
                return (await Csi.CreateSnapshot(request)).Snapshot.SnapshotId;
            }
            catch (RpcException e) when (e.Status == StatusCode.Aborted)
            {
                return null;
            }
        }).ToArray();

        var ids = (await Task.WhenAll(calls)).OfType<string>().Distinct().ToList();

        var winner = Assert.Single(ids);
        Assert.Equal([winner], (await Csi.ListAllSnapshotsAsync(new ListSnapshotsRequest { SourceVolumeId = source.VolumeId })).Select(s => s.SnapshotId));
    }
}
