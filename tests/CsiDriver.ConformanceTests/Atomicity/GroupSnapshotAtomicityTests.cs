using System.Collections.Concurrent;
using System.Diagnostics;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.TestSupport.Consistency;
using Xunit.Abstractions;

namespace CsiDriver.ConformanceTests.Atomicity;

/// <summary>
/// Proof of atomicity on the real binary: a workload keeps the invariant "the mirror volume is
/// never ahead of the primary" (primary write, acknowledgement, then the mirror write, through
/// the driver's NBD socket). Every group snapshot taken under that load must satisfy it when
/// restored; per-volume snapshots of the same volumes, taken one after the other, must be able
/// to break it, which shows the check can fail.
/// </summary>
public sealed class GroupSnapshotAtomicityTests(DriverFixture fixture, ITestOutputHelper output) : IClassFixture<DriverFixture>
{
    private const int GroupSnapshots = 200;
    private const int PerVolumeTries = 20;
    private const int ConcurrentChecks = 4;

    private CsiClient Csi => fixture.Csi;

    private string NbdSocket => Path.Combine(fixture.Driver.Workspace.DataDirectory, "nbd.sock");

    [Fact]
    public async Task Every_group_snapshot_taken_under_load_restores_with_the_mirror_never_ahead()
    {
        await using var volumes = await MirroredVolumes.StartAsync(Csi, NbdSocket, Volumes.UniqueName("orders"));
        await volumes.WaitForAsync(Layout.Slots);
        var reader = new SnapshotPairReader(Csi, NbdSocket);
        var reports = new ConcurrentBag<ConsistencyReport>();
        var clock = Stopwatch.StartNew();
        // Cuts are taken one after another; restoring and reading them (clone volumes, deletes:
        // mostly waiting on the driver's fsyncs) overlaps, a few at a time.
        using var checking = new SemaphoreSlim(ConcurrentChecks);
        var checks = new List<Task>();
        var committedAtLastCut = volumes.Workload.Committed;
        try
        {
            for (var i = 0; i < GroupSnapshots; i++)
            {
                await checking.WaitAsync();
                // Each cut comes after at least one more committed transaction, however slow the
                // machine, so the cuts can only agree if the snapshots miss the load's progress.
                await volumes.WaitForAsync(committedAtLastCut + 1);
                committedAtLastCut = volumes.Workload.Committed;
                var group = (await Csi.CreateVolumeGroupSnapshot(Volumes.UniqueName("cut"), volumes.PrimaryId, volumes.MirrorId)).GroupSnapshot;
                checks.Add(Task.Run(async () =>
                {
                    try
                    {
                        var bySource = group.Snapshots.ToDictionary(s => s.SourceVolumeId, s => s.SnapshotId);
                        Assert.Equal(2, bySource.Count);
                        reports.Add(await reader.CheckAsync(bySource[volumes.PrimaryId], bySource[volumes.MirrorId]));
                    }
                    finally
                    {
                        await Csi.DeleteVolumeGroupSnapshot(group);
                        checking.Release();
                    }
                }));
            }
        }
        finally
        {
            // A failed cut fails the test; the checks already started still finish and clean up.
            await Task.WhenAll(checks).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }
        await Task.WhenAll(checks);
        var committed = await volumes.StopAsync();

        var torn = reports.Where(r => !r.IsConsistent).ToList();
        var midTransaction = reports.Count(r => r.PrimaryHighest == r.MirrorHighest + 1);
        output.WriteLine($"{GroupSnapshots} group snapshots in {clock.Elapsed.TotalSeconds:0.0} s; {committed} transactions committed; " +
            $"{midTransaction} cuts fell between a primary write and its mirror; {torn.Count} inconsistent");
        Assert.Equal(GroupSnapshots, reports.Count);
        Assert.True(torn.Count == 0, $"{torn.Count} group snapshot(s) inconsistent, first: {torn.FirstOrDefault()}");
        // The check only means something if the load really moved between cuts.
        Assert.True(reports.Select(r => r.PrimaryHighest).Distinct().Count() >= GroupSnapshots / 2,
            "the workload barely advanced between group snapshots");
        Assert.All(reports, r => Assert.True(r.PrimaryHighest >= Layout.Slots, r.ToString()));
    }

    [Fact]
    public async Task Per_volume_snapshots_taken_one_after_the_other_show_the_mirror_ahead()
    {
        await using var volumes = await MirroredVolumes.StartAsync(Csi, NbdSocket, Volumes.UniqueName("orders"));
        await volumes.WaitForAsync(Layout.Slots);
        var reader = new SnapshotPairReader(Csi, NbdSocket);
        ConsistencyReport? violation = null;
        var tries = 0;
        while (violation is null && tries < PerVolumeTries)
        {
            tries++;
            // Primary first, mirror second: any transaction committed in between is in the
            // mirror's copy and not in the primary's.
            var primary = (await Csi.CreateSnapshot(new() { Name = Volumes.UniqueName("alone"), SourceVolumeId = volumes.PrimaryId })).Snapshot;
            var mirror = (await Csi.CreateSnapshot(new() { Name = Volumes.UniqueName("alone"), SourceVolumeId = volumes.MirrorId })).Snapshot;
            try
            {
                var report = await reader.CheckAsync(primary.SnapshotId, mirror.SnapshotId);
                violation = report.MirrorAhead ? report : null;
            }
            finally
            {
                await Csi.DeleteSnapshot(primary.SnapshotId);
                await Csi.DeleteSnapshot(mirror.SnapshotId);
            }
        }
        await volumes.StopAsync();

        output.WriteLine($"after {tries} tr{(tries == 1 ? "y" : "ies")}: {violation?.ToString() ?? "no violation"}");
        Assert.NotNull(violation);
        Assert.Contains(violation.Problems, p => p.Kind == ConsistencyProblemKind.MirrorAhead);
    }

    private static TransactionLayout Layout => MirroredVolumes.Layout;
}
