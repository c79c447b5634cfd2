using System.Globalization;
using System.Net;

namespace CsiDriver.Rpc;

/// <summary>A TCP address written host:port ("10.0.0.7:7400", "backup.example:7400", "[::1]:7400").</summary>
public sealed record HostPort(string Host, int Port)
{
    /// <summary>Parses host:port; <paramref name="what"/> names the address in the error.</summary>
    public static HostPort Parse(string text, string what = "address")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is 0 or > 65535)
        {
            throw new FormatException($"{what} '{text}' is not host:port");
        }
        var host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        return new HostPort(host, port);
    }

    /// <summary>Where to listen: an IP literal binds that address; a name binds every address.</summary>
    public IPEndPoint ToListenEndPoint() =>
        IPAddress.TryParse(Host, out var ip) ? new IPEndPoint(ip, Port) : new IPEndPoint(IPAddress.IPv6Any, Port);

    /// <summary>Whether a peer can dial this address (not a wildcard such as 0.0.0.0 or [::]).</summary>
    public bool IsDialable => !IPAddress.TryParse(Host, out var ip) || !(ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any));

    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
