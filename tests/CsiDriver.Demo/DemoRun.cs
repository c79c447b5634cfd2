using CsiDriver.Demo.Shop;

namespace CsiDriver.Demo;

/// <summary>
/// The story of issue 7, run twice: in group mode (set-up, business processing, backup
/// configuration, snapshot development at the backup, disaster) and, for contrast, in
/// per-volume mode (the same until the backup snapshots, which the checker then finds
/// collapsing). Each step's verdict goes to <see cref="DemoResults"/>; the timeline feeds the
/// live view and the report. The phases are in the partial files DemoRun.*.cs.
/// </summary>
public sealed partial class DemoRun(DemoOptions options, DemoTimeline timeline, DemoResults results)
{
    public const string GroupRun = "group";
    public const string PerVolumeRun = "per-volume";

    /// <summary>The sites of both runs, each a directory of the output directory.</summary>
    private static readonly string[] SiteNames = ["main", "backup", "pv-main", "pv-backup"];

    /// <summary>Why the shop cannot use the node path here (null: it can mount).</summary>
    private readonly string? _noMount = options.RawBlocks ? "--raw asked for block records" : NodePath.Problem();
    private readonly List<SiteProcess> _sites = [];
    private readonly DriverExecutable _driver = new(options.CsiDriver);

    /// <summary>Each site on CPUs of its own, the shop (this process) with the main site, as two
    /// machines would have them; null with a single CPU.</summary>
    private readonly TestSupport.SiteCpus? _cpus = TestSupport.SiteCpus.Split();
    private IReadOnlyDictionary<string, (string Certificate, string Key, string Authority)>? _certificates;
    private string? _replicationMissing;

    /// <summary>What --keep leaves behind and how to use it, for the summary.</summary>
    private readonly List<string> _kept = [];

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        PrepareOutput();
        await using var sampler = new Sampler(timeline);
        sampler.Start();
        timeline.Note(_noMount is null
            ? "the shop runs two SQLite databases on volumes mounted through the CSI node path"
            : $"no mounted databases ({_noMount}): the shop writes raw block records through NBD");
        if (_driver.HasSiteLink)
        {
            _certificates = DemoCertificates.Create(Path.Combine(options.OutputDirectory, "certs"), SiteNames);
            timeline.Note("site link certificates made (throwaway CA) in " + Path.Combine(options.OutputDirectory, "certs"));
        }
        if (_cpus is not null)
        {
            TestSupport.SiteCpus.PinThisProcess(_cpus.Main);
            timeline.Note($"sites pinned as on two machines: {_cpus} (the shop runs with the main site)");
        }
        try
        {
            await RunModeAsync(GroupRun, sampler, cancellationToken);
            if (_replicationMissing is null)
            {
                await RunModeAsync(PerVolumeRun, sampler, cancellationToken);
            }
            else
            {
                results.Record(PerVolumeRun, "contrast", Outcome.Skipped, _replicationMissing + ", so there is no replication to compare");
            }
        }
        finally
        {
            sampler.Watch(null);
            await FinishSitesAsync();
        }
    }

    /// <summary>Runs one step: its verdict is recorded, and a failure (an exception) ends the
    /// run it belongs to — later steps of that run depend on it.</summary>
    private async Task<T> StepAsync<T>(string run, string step, Func<Task<(T Value, Outcome Outcome, string Detail)>> body)
    {
        try
        {
            var (value, outcome, detail) = await body();
            results.Record(run, step, outcome, detail);
            timeline.Note($"[{run}] {step}: {outcome.ToString().ToUpperInvariant()} {detail}");
            return value;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var reason = e is DemoException or Rpc.RpcException ? e.Message : e.ToString();
            results.Record(run, step, Outcome.Fail, reason);
            timeline.Note($"[{run}] {step}: FAIL {reason}");
            throw new StoryStopped();
        }
    }

    /// <summary>Clears what an earlier demo left in the output directory. Refuses while a site
    /// may still run there (--keep) or while something is mounted under it: deleting through a
    /// mount would delete a volume's files.</summary>
    private void PrepareOutput()
    {
        Directory.CreateDirectory(options.OutputDirectory);
        var mounts = File.ReadLines("/proc/self/mountinfo")
            .Select(line => line.Split(' ')[4].Replace("\\040", " ", StringComparison.Ordinal))
            .Where(path => path.StartsWith(options.OutputDirectory + "/", StringComparison.Ordinal))
            .OrderDescending(StringComparer.Ordinal)
            .ToList();
        if (mounts.Count > 0)
        {
            throw new DemoException($"{options.OutputDirectory} still has mounts from an earlier demo; release them " +
                $"(umount -l {string.Join(' ', mounts)}) or choose another --output");
        }
        foreach (var site in SiteNames)
        {
            var root = Path.Combine(options.OutputDirectory, site);
            if (File.Exists(Path.Combine(root, "csi.sock")))
            {
                throw new DemoException($"{root} has a live socket: a demo left running with --keep may still use it; stop it or choose another --output");
            }
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    /// <summary>Stops every site (or, with --keep, leaves them running and lists how to reach them).</summary>
    private async Task FinishSitesAsync()
    {
        var kept = new List<string>(_kept);
        foreach (var site in _sites)
        {
            if (options.Keep && !site.HasExited)
            {
                site.Release();
                kept.Add($"# site {site.Layout.Name} (pid {site.ProcessId}), log {site.Layout.LogFile}");
                kept.Add($"#   CSI unix://{site.Layout.CsiSocket}, csi-addons unix://{site.Layout.AddonsSocket}, NBD {site.Layout.NbdSocket}" +
                    (site.Settings.MetricsAddress is { } metrics ? $", metrics http://{metrics}/metrics" : ""));
                kept.Add($"#   started as: {site.CommandLine}");
                kept.Add($"kill {site.ProcessId}   # stops it");
            }
            else if (!site.HasExited)
            {
                await site.StopAsync();
            }
            await site.DisposeAsync();
        }
        results.KeptCommands = kept;
    }

    /// <summary>Ends the current run's story after a failed step (already recorded).</summary>
    private sealed class StoryStopped : Exception;
}
