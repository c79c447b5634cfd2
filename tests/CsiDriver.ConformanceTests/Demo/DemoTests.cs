using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.ConformanceTests.Demo;

/// <summary>
/// `formation-demo` end to end, short: it starts two sites of the published csidriver, runs the
/// shop, replicates, snapshots and clones at the backup, kills the main and promotes the
/// backup, then contrasts per-volume mode. The test fails if any step fails or is skipped — in
/// particular if the checker finds an inconsistent backup in group mode.
/// </summary>
public sealed class DemoTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task A_short_demo_passes_every_step_and_writes_its_report()
    {
        var output = Directory.CreateTempSubdirectory("fdemo-").FullName;
        try
        {
            var (exitCode, process) = await DriverCommand.RunToExitAsync(
                ["--csidriver", PublishedBinary.Driver.RequirePath(), "--duration", "12s", "--rate", "40", "--snapshot-checks", "3", "--output", output],
                Limit, PublishedBinary.Demo);
            var text = process.AllText;

            Assert.True(exitCode == 0, $"formation-demo exited with {exitCode}:\n{text}");
            Assert.Contains("PASS", text);
            Assert.DoesNotContain("FAIL", text);
            Assert.Contains("business processing: PASS", text);
            var report = await File.ReadAllTextAsync(Path.Combine(output, "report.html"));
            Assert.Contains("<svg", report);
            Assert.Contains("class=\"verdict Pass\"", report);
            // Both runs replicate: this build has the site link, so a skipped step (the summary
            // table's SKIPPED) is a failure here. Group mode: every backup snapshot consistent, the
            // promoted backup consistent after the main site was killed.
            Assert.Contains("[group] backup configuration: PASS", text);
            Assert.Contains("[per-volume] backup configuration: PASS", text);
            Assert.DoesNotContain("SKIPPED", text);
            Assert.Contains("group: inconsistent backup snapshots", text);
            Assert.Contains("snapshot development at the backup: PASS", text);
            Assert.Contains("promoted volumes checked: PASS", text);
            Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), line => line.Contains(output, StringComparison.Ordinal));
        }
        finally
        {
            try
            {
                Directory.Delete(output, recursive: true);
            }
            catch (IOException)
            {
                // A site still closing its files: the temp directory is left for the system's cleaner.
            }
        }
    }
}
