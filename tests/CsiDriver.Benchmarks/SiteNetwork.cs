using System.Globalization;
using System.Security.Cryptography;
using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.Benchmarks;

/// <summary>
/// A real network between the two sites, as root: the backup site runs in a network namespace
/// of its own, joined to this one by a veth pair whose two ends each carry a `tc tbf` qdisc
/// holding the link's rate; the main site stays in this namespace on its end's address. The
/// round-trip delay is added by the fault proxy the main site ships through (half each way,
/// <see cref="CsiDriver.ConformanceTests.Infrastructure.FaultyLink.Delay"/>): this kernel has no
/// netem (CONFIG_NET_SCH_NETEM is not set) and no other qdisc that delays. Names and the /30
/// subnet carry a random part so benchmarks and tests running at the same time never share
/// them; disposing deletes the namespace, which removes both veth ends.
/// </summary>
public sealed class SiteNetwork : IDisposable
{
    /// <summary>tbf's bucket: at least one segment as the veth hands it over (GSO joins up to
    /// 64 KiB), so every packet can pass at the rate.</summary>
    private const string Burst = "256kb";

    /// <summary>How long a packet may wait in tbf's queue before it is dropped.</summary>
    private const string QueueLatency = "100ms";

    private readonly string _namespace;
    private readonly string _mainEnd;

    private SiteNetwork(string tag, int subnet, TimeSpan roundTrip, long bitsPerSecond)
    {
        _namespace = $"fbn{tag}";
        _mainEnd = $"fbn{tag}m";
        RoundTrip = roundTrip;
        BitsPerSecond = bitsPerSecond;
        MainAddress = $"10.213.{subnet / 64}.{subnet % 64 * 4 + 1}";
        BackupAddress = $"10.213.{subnet / 64}.{subnet % 64 * 4 + 2}";
    }

    public TimeSpan RoundTrip { get; }

    public long BitsPerSecond { get; }

    public string MainAddress { get; }

    public string BackupAddress { get; }

    /// <summary>Bytes in flight that fill the link: rate × round trip.</summary>
    public double BandwidthDelayBytes => BitsPerSecond / 8.0 * RoundTrip.TotalSeconds;

    /// <summary>The launcher prefix that runs a command in the backup's namespace.</summary>
    public IReadOnlyList<string> BackupLauncher => ["nsenter", $"--net=/run/netns/{_namespace}", "--"];

    /// <summary>Whether this machine can build one: root with ip, tc and nsenter.</summary>
    public static bool Available => Environment.UserName == "root" && File.Exists("/usr/sbin/ip") && File.Exists("/usr/sbin/tc") && File.Exists("/usr/bin/nsenter");

    public static async Task<SiteNetwork> CreateAsync(TimeSpan roundTrip, long bitsPerSecond)
    {
        var tag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        var network = new SiteNetwork(tag, RandomNumberGenerator.GetInt32(0, 256 * 64), roundTrip, bitsPerSecond);
        try
        {
            await network.BuildAsync();
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private async Task BuildAsync()
    {
        var backupEnd = _namespace + "b";
        await HostCommand.RunAsync("ip", "netns", "add", _namespace);
        await HostCommand.RunAsync("ip", "link", "add", _mainEnd, "type", "veth", "peer", "name", backupEnd, "netns", _namespace);
        await HostCommand.RunAsync("ip", "addr", "add", MainAddress + "/30", "dev", _mainEnd);
        await HostCommand.RunAsync("ip", "link", "set", _mainEnd, "up");
        await HostCommand.RunAsync("ip", "-n", _namespace, "addr", "add", BackupAddress + "/30", "dev", backupEnd);
        await HostCommand.RunAsync("ip", "-n", _namespace, "link", "set", "lo", "up");
        await HostCommand.RunAsync("ip", "-n", _namespace, "link", "set", backupEnd, "up");
        string[] rate =
        [
            "qdisc", "add", "dev", "DEV", "root", "tbf",
            "rate", string.Create(CultureInfo.InvariantCulture, $"{BitsPerSecond}bit"), "burst", Burst, "latency", QueueLatency,
        ];
        await HostCommand.RunAsync("tc", [.. rate.Select(a => a == "DEV" ? _mainEnd : a)]);
        await HostCommand.RunAsync("tc", ["-n", _namespace, .. rate.Select(a => a == "DEV" ? backupEnd : a)]);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"veth {MainAddress} ↔ {BackupAddress} (namespace {_namespace}) at {BitsPerSecond / 1e9:0.##} Gbit/s (tbf), {RoundTrip.TotalMilliseconds:0} ms round trip (the proxy)");

    public void Dispose()
    {
        // The backup's process is gone first (the sites are disposed before the network); the
        // namespace takes its veth end, and the pair with it.
        if (File.Exists($"/run/netns/{_namespace}"))
        {
            HostCommand.RunAsync("ip", "netns", "del", _namespace).GetAwaiter().GetResult();
        }
    }
}
