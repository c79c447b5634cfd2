using System.Diagnostics;
using CsiDriver.ConformanceTests.Atomicity;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.TestSupport.Consistency;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>
/// Checks the backup of a <see cref="ReplicatedGroup"/> at random moments while the link
/// misbehaves: most checks read the live replicas (<see cref="ReplicaPair"/>), every
/// <see cref="SnapshotEvery"/>th takes a group snapshot of both replicas at the backup and checks
/// it whole through clones (<see cref="SnapshotPairReader"/>). Between checks the link's jitter
/// changes at random and now and then its connections are reset or it goes down for a moment
/// (unless <c>linkFaults</c> is off, for tests whose fault is elsewhere).
/// Bounded by a count of checks, not by time, so a slow or loaded machine makes the same number of
/// checks (only more slowly); the random schedule comes from a seed the test prints.
/// </summary>
public sealed class BackupProbe(TwoSites sites, ReplicatedGroup group, int seed, bool linkFaults = true)
{
    public const int SnapshotEvery = 20;
    private const int FaultEvery = 60;
    private static readonly TimeSpan LongestPause = TimeSpan.FromMilliseconds(15);
    private static readonly TimeSpan LongestJitter = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan Outage = TimeSpan.FromMilliseconds(300);

    private readonly Random _random = new(seed);

    public sealed record Finding(bool FromSnapshot, ConsistencyReport Report);

    public sealed record Results(IReadOnlyList<Finding> Checks, int Faults, TimeSpan Elapsed)
    {
        /// <summary>Live reads can only show the mirror ahead (see <see cref="ReplicaPair"/>);
        /// snapshots are checked whole.</summary>
        public IReadOnlyList<Finding> Violations =>
            Checks.Where(c => c.FromSnapshot ? !c.Report.IsConsistent : c.Report.MirrorAhead).ToList();

        public int SnapshotChecks => Checks.Count(c => c.FromSnapshot);

        public override string ToString() =>
            $"{Checks.Count} checks ({SnapshotChecks} of backup group snapshots) in {Elapsed.TotalSeconds:0.0} s with {Faults} link faults; " +
            $"{Violations.Count} violation(s){(Violations.Count > 0 ? ", first: " + Violations[0].Report : "")}";
    }

    public async Task<Results> RunAsync(int checkCount, bool stopAtFirstViolation)
    {
        var checks = new List<Finding>();
        var faults = 0;
        var clock = Stopwatch.StartNew();
        await using var replicas = await ReplicaPair.OpenAsync(sites.Backup.NbdSocket, group.PrimaryId, group.MirrorId);
        var snapshots = new SnapshotPairReader(sites.Backup.Csi, sites.Backup.NbdSocket);
        while (checks.Count < checkCount)
        {
            await Task.Delay(TimeSpan.FromTicks(_random.NextInt64(LongestPause.Ticks)));
            if (linkFaults)
            {
                sites.Link.Jitter = TimeSpan.FromTicks(_random.NextInt64(LongestJitter.Ticks));
            }
            if (linkFaults && checks.Count % FaultEvery == FaultEvery - 1)
            {
                faults++;
                await InjectFaultAsync();
            }
            var fromSnapshot = checks.Count % SnapshotEvery == SnapshotEvery - 1;
            var report = fromSnapshot ? await CheckSnapshotAsync(snapshots) : await replicas.CheckAsync();
            var finding = new Finding(fromSnapshot, report);
            checks.Add(finding);
            if (stopAtFirstViolation && (fromSnapshot ? !report.IsConsistent : report.MirrorAhead))
            {
                break;
            }
        }
        sites.Link.Jitter = TimeSpan.Zero;
        sites.Link.Up();
        return new Results(checks, faults, clock.Elapsed);
    }

    /// <summary>Either every live connection is reset, or the link is down for a moment.</summary>
    private async Task InjectFaultAsync()
    {
        if (_random.Next(2) == 0)
        {
            sites.Link.Disconnect();
            return;
        }
        sites.Link.Down();
        await Task.Delay(Outage);
        sites.Link.Up();
    }

    private async Task<ConsistencyReport> CheckSnapshotAsync(SnapshotPairReader reader)
    {
        var cut = (await sites.Backup.Csi.CreateVolumeGroupSnapshot(Volumes.UniqueName("backup-cut"), group.PrimaryId, group.MirrorId)).GroupSnapshot;
        try
        {
            var bySource = cut.Snapshots.ToDictionary(s => s.SourceVolumeId, s => s.SnapshotId);
            return await reader.CheckAsync(bySource[group.PrimaryId], bySource[group.MirrorId]);
        }
        finally
        {
            await sites.Backup.Csi.DeleteVolumeGroupSnapshot(cut);
        }
    }
}
