using System.Globalization;
using System.Net;

namespace CsiDriver.Metrics;

/// <summary>
/// Where `--metrics-address` listens, written host:port: an IPv4 or bracketed IPv6 literal
/// ("127.0.0.1:9100", "[::1]:9100"), "localhost" (the IPv4 loopback), or no host (":9100",
/// every address). Port 0 lets the kernel pick one (the log line says which).
/// </summary>
public static class MetricsAddress
{
    public static bool TryParse(string text, out IPEndPoint endpoint)
    {
        endpoint = new IPEndPoint(IPAddress.Any, 0);
        var colon = text.LastIndexOf(':');
        if (colon < 0 || !ushort.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            return false;
        }
        var host = text[..colon];
        IPAddress? address = host switch
        {
            "" => IPAddress.Any,
            "localhost" => IPAddress.Loopback,
            ['[', .., ']'] => IPAddress.TryParse(host[1..^1], out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? v6 : null,
            _ => IPAddress.TryParse(host, out var v4) && v4.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? v4 : null,
        };
        if (address is null)
        {
            return false;
        }
        endpoint = new IPEndPoint(address, port);
        return true;
    }

    public static IPEndPoint Parse(string text) =>
        TryParse(text, out var endpoint) ? endpoint : throw new FormatException($"'{text}' is not host:port such as 127.0.0.1:9100, [::1]:9100 or :9100");
}
