using System.Diagnostics;
using System.Security.Cryptography;

namespace CsiDriver.ConformanceTests.Cluster;

/// <summary>
/// Simulated hosts for one test, each with an address of its own. As root (the test machines
/// run as root), every host is a network namespace joined by a veth pair to a bridge in a
/// namespace of the network's own, so a host can be cut off like a failed machine; processes
/// enter the host's network namespace only, so their mounts stay visible to the test. Without
/// root the hosts are distinct loopback addresses in this namespace, and cannot be cut off.
/// Names carry a random tag, so tests running at the same time never share a namespace.
/// </summary>
public sealed class TestNetwork : IDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    private readonly string _tag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
    private readonly List<SimulatedHost> _hosts = [];
    // Loopback hosts of networks alive at once must differ (their servers bind fixed ports such
    // as the node link's): each network takes the next second octet from a start chosen at
    // random per process, so no two of a run's first 234 networks share one (a random octet per network did:
    // two split deployments met on 127.243.0.1:7600), and two runs at once seldom meet.
    private const int FirstOctet = 16;
    private const int Octets = 234;
    private static int LastOctetTaken = RandomNumberGenerator.GetInt32(Octets);
    private readonly int _loopbackOctet = FirstOctet + (int)((uint)Interlocked.Increment(ref LastOctetTaken) % Octets);
    private bool _switchMade;

    /// <param name="namespaces">False: loopback addresses even as root (for tests that never cut a host off).</param>
    public TestNetwork(bool namespaces = true)
    {
        UsesNamespaces = namespaces && Environment.UserName == "root" && File.Exists("/usr/sbin/ip") && File.Exists("/usr/bin/nsenter");
    }

    /// <summary>Whether hosts are network namespaces (root) rather than loopback addresses.</summary>
    public bool UsesNamespaces { get; }

    private string Switch => $"fc{_tag}sw";

    /// <summary>A new host on this network.</summary>
    public SimulatedHost AddHost(string name)
    {
        lock (_hosts)
        {
            var index = _hosts.Count + 1;
            SimulatedHost host;
            if (UsesNamespaces)
            {
                MakeSwitch();
                var ns = $"fc{_tag}h{index}";
                Ip("netns", "add", ns);
                // One end in the host, the other on the switch's bridge.
                Ip("link", "add", $"{ns}a", "netns", ns, "type", "veth", "peer", "name", $"{ns}b", "netns", Switch);
                Ip("-n", ns, "addr", "add", $"10.99.0.{index}/24", "dev", $"{ns}a");
                Ip("-n", ns, "link", "set", "lo", "up");
                Ip("-n", ns, "link", "set", $"{ns}a", "up");
                Ip("-n", Switch, "link", "set", $"{ns}b", "master", "br0", "up");
                host = new SimulatedHost(this, name, $"10.99.0.{index}", ns);
            }
            else
            {
                host = new SimulatedHost(this, name, $"127.{_loopbackOctet}.0.{index}", null);
            }
            _hosts.Add(host);
            return host;
        }
    }

    public void Dispose()
    {
        lock (_hosts)
        {
            foreach (var ns in _hosts.Select(h => h.Namespace).OfType<string>().Append(_switchMade ? Switch : null).OfType<string>())
            {
                // Its processes are gone (the fixtures stop them first); deleting the namespace
                // removes its end of the veth pair, and the pair with it.
                TryIp("netns", "del", ns);
            }
        }
    }

    internal void SetLink(SimulatedHost host, bool up) =>
        Ip("-n", Switch, "link", "set", $"{host.Namespace}b", up ? "up" : "down");

    private void MakeSwitch()
    {
        if (_switchMade)
        {
            return;
        }
        Ip("netns", "add", Switch);
        _switchMade = true;
        Ip("-n", Switch, "link", "add", "br0", "type", "bridge");
        Ip("-n", Switch, "link", "set", "br0", "up");
    }

    private static void Ip(params string[] arguments)
    {
        var (exitCode, error) = Run(arguments);
        Assert.True(exitCode == 0, $"`ip {string.Join(' ', arguments)}` exited with {exitCode}: {error}");
    }

    private static void TryIp(params string[] arguments) => Run(arguments);

    private static (int ExitCode, string Error) Run(string[] arguments)
    {
        var startInfo = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("ip did not start");
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(CommandTimeout))
        {
            process.Kill();
            Assert.Fail($"`ip {string.Join(' ', arguments)}` still running after {CommandTimeout.TotalSeconds} s");
        }
        return (process.ExitCode, error.Result);
    }
}

/// <summary>One simulated host: its address, and how to run a process on it.</summary>
public sealed class SimulatedHost
{
    private readonly TestNetwork _network;

    internal SimulatedHost(TestNetwork network, string name, string address, string? ns)
    {
        _network = network;
        Name = name;
        Address = address;
        Namespace = ns;
    }

    public string Name { get; }

    /// <summary>The host's IP address, reachable from every other host of the network.</summary>
    public string Address { get; }

    internal string? Namespace { get; }

    /// <summary>Whether <see cref="CutOff"/> can isolate it (a namespace host).</summary>
    public bool CanBeCutOff => Namespace is not null;

    /// <summary>Prefix that runs a command with this host's network.</summary>
    public IReadOnlyList<string> Launcher => Namespace is null ? [] : ["nsenter", $"--net=/run/netns/{Namespace}", "--"];

    public string Endpoint(int port) => $"{Address}:{port}";

    /// <summary>Takes the host's link down: its packets go nowhere, as when a machine fails.</summary>
    public void CutOff() => _network.SetLink(this, up: false);

    public void Reconnect() => _network.SetLink(this, up: true);

    public override string ToString() => $"{Name} ({Address})";
}
