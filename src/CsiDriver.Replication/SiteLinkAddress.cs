using System.Globalization;
using System.Net;

namespace CsiDriver.Replication;

/// <summary>A site link's host:port ("10.0.0.7:7400", "backup.example:7400", "[::1]:7400").</summary>
public sealed record SiteLinkAddress(string Host, int Port)
{
    public static SiteLinkAddress Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is 0 or > 65535)
        {
            throw new FormatException($"site-link address '{text}' is not host:port");
        }
        var host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        return new SiteLinkAddress(host, port);
    }

    /// <summary>Where to listen: an IP literal binds that address; a name binds every address.</summary>
    public IPEndPoint ToListenEndPoint() =>
        IPAddress.TryParse(Host, out var ip) ? new IPEndPoint(ip, Port) : new IPEndPoint(IPAddress.IPv6Any, Port);

    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
