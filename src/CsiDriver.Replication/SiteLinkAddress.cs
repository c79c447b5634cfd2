using System.Net;
using CsiDriver.Rpc;

namespace CsiDriver.Replication;

/// <summary>A site link's host:port ("10.0.0.7:7400", "backup.example:7400", "[::1]:7400").</summary>
public sealed record SiteLinkAddress(string Host, int Port)
{
    public static SiteLinkAddress Parse(string text)
    {
        var address = HostPort.Parse(text, "site-link address");
        return new SiteLinkAddress(address.Host, address.Port);
    }

    /// <summary>Where to listen: an IP literal binds that address; a name binds every address.</summary>
    public IPEndPoint ToListenEndPoint() => new HostPort(Host, Port).ToListenEndPoint();

    public override string ToString() => new HostPort(Host, Port).ToString();
}
