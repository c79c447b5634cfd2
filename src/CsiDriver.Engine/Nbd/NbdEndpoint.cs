using System.Net;
using System.Net.Sockets;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// Where the NBD server listens: a unix socket (<c>unix:///path</c>, the normal case) or a TCP
/// port on a loopback address (<c>tcp://127.0.0.1:10809</c>). Non-loopback addresses are refused:
/// exports carry no authentication.
/// </summary>
public sealed record NbdEndpoint
{
    private NbdEndpoint(string? unixSocketPath, IPEndPoint? tcp)
    {
        UnixSocketPath = unixSocketPath;
        Tcp = tcp;
    }

    public string? UnixSocketPath { get; }

    public IPEndPoint? Tcp { get; }

    /// <summary>The socket a node uses when no endpoint is given: <c>nbd.sock</c> in the data directory.</summary>
    public static NbdEndpoint Default(string dataDirectory) => Unix(Path.Combine(dataDirectory, "nbd.sock"));

    public static NbdEndpoint Unix(string path)
    {
        if (string.IsNullOrEmpty(path) || !Path.IsPathRooted(path))
        {
            throw new ArgumentException($"unix socket path '{path}' must be absolute", nameof(path));
        }
        return new NbdEndpoint(path, null);
    }

    public static NbdEndpoint Loopback(IPEndPoint endpoint)
    {
        if (!IPAddress.IsLoopback(endpoint.Address))
        {
            throw new ArgumentException($"NBD over TCP listens on loopback only, not {endpoint.Address}", nameof(endpoint));
        }
        return new NbdEndpoint(null, endpoint);
    }

    /// <summary>Parses <c>unix:///abs/path</c> or <c>tcp://127.0.0.1:port</c> (also <c>[::1]</c>).</summary>
    public static NbdEndpoint Parse(string text)
    {
        if (text.StartsWith("unix://", StringComparison.Ordinal))
        {
            return Unix(text["unix://".Length..]);
        }
        if (text.StartsWith("tcp://", StringComparison.Ordinal)
            && IPEndPoint.TryParse(text["tcp://".Length..], out var ip))
        {
            return Loopback(ip);
        }
        throw new ArgumentException($"NBD endpoint '{text}' must be unix:///absolute/path or tcp://<loopback address>:<port>", nameof(text));
    }

    internal EndPoint ToEndPoint() => UnixSocketPath is { } path ? new UnixDomainSocketEndPoint(path) : Tcp!;

    internal Socket CreateSocket() => UnixSocketPath is not null
        ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
        : new Socket(Tcp!.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };

    public override string ToString() => UnixSocketPath is { } path ? "unix://" + path : "tcp://" + Tcp;
}
