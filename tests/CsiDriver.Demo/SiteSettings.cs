using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CsiDriver.Demo;

/// <summary>The site link's TLS material of one site (PEM files) and where it listens.</summary>
public sealed record SiteLinkSettings(string ListenAddress, string CertificateFile, string KeyFile, string AuthorityFile);

/// <summary>How one demo site is started: which csidriver, with which `serve` flags, on which
/// CPUs (<paramref name="Cpus"/>, a taskset CPU list; null: every CPU).</summary>
public sealed record SiteSettings(string Executable, string SiteId, SiteLinkSettings? SiteLink, string? MetricsAddress, string? Cpus = null)
{
    /// <summary>The whole command: csidriver serve with its flags, through taskset when pinned.</summary>
    public IReadOnlyList<string> Command(SiteLayout layout) =>
        [.. Cpus is null ? [] : TestSupport.SiteCpus.Pin(Cpus), Executable, .. ServeArguments(layout)];

    public IReadOnlyList<string> ServeArguments(SiteLayout layout)
    {
        var arguments = new List<string>
        {
            "serve",
            "--endpoint", "unix://" + layout.CsiSocket,
            "--csiaddons-endpoint", "unix://" + layout.AddonsSocket,
            "--node-id", SiteId,
            "--data-dir", layout.DataDirectory,
            "--kubelet-dir", layout.KubeletDirectory,
        };
        if (SiteLink is { } link)
        {
            arguments.AddRange([
                "--site-id", SiteId,
                "--site-link-address", link.ListenAddress,
                "--site-link-cert", link.CertificateFile,
                "--site-link-key", link.KeyFile,
                "--site-link-ca", link.AuthorityFile,
            ]);
        }
        if (MetricsAddress is { } metrics)
        {
            arguments.AddRange(["--metrics-address", metrics]);
        }
        return arguments;
    }

    /// <summary>A loopback port free right now (bound, read, released), for a child to listen on.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static string Loopback(int port) => "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);
}
