using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.TestSupport;
using CsiDriver.TestSupport.Consistency;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.ConformanceTests.Atomicity;

/// <summary>`formation-demo check-consistency`, the checker as a tool, run as a process against a
/// running driver's NBD socket: it passes a pair the workload wrote and fails one whose mirror
/// was pushed ahead.</summary>
public sealed class CheckConsistencyCommandTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private string NbdSocket => Path.Combine(fixture.Driver.Workspace.DataDirectory, "nbd.sock");

    private Task<(int ExitCode, ProcessOutput Output)> CheckAsync(string primary, string mirror) =>
        DriverCommand.RunToExitAsync(
            ["check-consistency", "--nbd-socket", NbdSocket, "--primary", primary, "--mirror", mirror,
             "--slots", MirroredVolumes.Layout.Slots.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            CommandTimeout, PublishedBinary.Demo);

    [Fact]
    public async Task A_pair_the_workload_wrote_passes_and_a_mirror_pushed_ahead_fails()
    {
        await using var volumes = await MirroredVolumes.StartAsync(fixture.Csi, NbdSocket, Volumes.UniqueName("tool"));
        await volumes.WaitForAsync(40);
        var committed = await volumes.StopAsync();
        var (primary, mirror) = (volumes.PrimaryId, volumes.MirrorId);

        var (passCode, passOutput) = await CheckAsync(primary, mirror);
        Assert.True(passCode == 0, passOutput.AllText);
        Assert.Contains("CONSISTENT", passOutput.AllText);

        await using (var device = await NbdBlockDevice.OpenAsync(NbdSocket, mirror))
        {
            var block = new byte[TransactionRecord.Size];
            var ahead = new TransactionRecord(TransactionSide.Mirror, committed + 1);
            ahead.Write(block);
            await device.WriteAsync(MirroredVolumes.Layout.OffsetOf(ahead.Transaction), block, fua: true);
        }

        var (failCode, failOutput) = await CheckAsync(primary, mirror);
        Assert.True(failCode == 1, failOutput.AllText);
        Assert.Contains("INCONSISTENT", failOutput.AllText);
        Assert.Contains(nameof(ConsistencyProblemKind.MirrorAhead), failOutput.AllText);

        var (missingCode, _) = await CheckAsync(primary, "vol-does-not-exist");
        Assert.Equal(2, missingCode);
    }
}
