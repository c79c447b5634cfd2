using System.Diagnostics;

namespace CsiDriver.Demo;

/// <summary>
/// The csidriver the demo runs its sites with (--csidriver), and the serve flags it has: a
/// build without the site link (or metrics) still runs the shop, and the demo says what it
/// skipped rather than failing on an unknown flag.
/// </summary>
public sealed class DriverExecutable
{
    private readonly Lazy<string> _serveHelp;

    public DriverExecutable(string path)
    {
        if (!File.Exists(path))
        {
            throw new DemoException($"no csidriver at {path}: run `make build` first, or give its path with --csidriver");
        }
        Path = path;
        _serveHelp = new Lazy<string>(() => ServeHelp(path));
    }

    public string Path { get; }

    public bool HasSiteLink => _serveHelp.Value.Contains("--site-link-address", StringComparison.Ordinal);

    public bool HasMetrics => _serveHelp.Value.Contains("--metrics-address", StringComparison.Ordinal);

    private static string ServeHelp(string path)
    {
        var info = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("serve");
        info.ArgumentList.Add("--help");
        using var process = Process.Start(info) ?? throw new DemoException($"{path} did not start");
        var help = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill();
            throw new DemoException($"`{path} serve --help` did not answer within 30 s");
        }
        return help.Result;
    }
}
