using System.Globalization;
using System.Security.Cryptography;
using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.Benchmarks;

/// <summary>
/// A real network between the two sites, as root: the backup site runs in a network namespace
/// of its own, joined to this one by a veth pair whose two ends both carry a `tc netem` qdisc
/// holding half the round-trip delay and the link's rate, so every byte between the sites (and
/// the benchmark's own calls to the backup's TCP endpoints) crosses a link with that delay and
/// bandwidth. The main site stays in this namespace on its end's address. Names and the /30
/// subnet carry a random part so benchmarks and tests running at the same time never share
/// them; disposing deletes the namespace, which removes both veth ends.
/// </summary>
public sealed class SiteNetwork : IDisposable
{
    /// <summary>netem's queue, in packets: its default (1000) is smaller than the bandwidth-delay
    /// product of 1 Gbit/s over 50 ms (about 4200 full-size packets) and would drop packets.</summary>
    private const int QueuePackets = 100_000;

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
        string[] netem =
        [
            "qdisc", "add", "dev", "DEV", "root", "netem",
            "delay", string.Create(CultureInfo.InvariantCulture, $"{RoundTrip.TotalMilliseconds / 2}ms"),
            "rate", string.Create(CultureInfo.InvariantCulture, $"{BitsPerSecond}bit"),
            "limit", QueuePackets.ToString(CultureInfo.InvariantCulture),
        ];
        await HostCommand.RunAsync("tc", [.. netem.Select(a => a == "DEV" ? _mainEnd : a)]);
        await HostCommand.RunAsync("tc", ["-n", _namespace, .. netem.Select(a => a == "DEV" ? backupEnd : a)]);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"veth {MainAddress} ↔ {BackupAddress} (namespace {_namespace}), netem {RoundTrip.TotalMilliseconds:0} ms round trip, {BitsPerSecond / 1e9:0.##} Gbit/s");

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
