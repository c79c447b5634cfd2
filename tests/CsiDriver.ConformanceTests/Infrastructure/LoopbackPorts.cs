using System.Net;
using System.Net.Sockets;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>Free TCP ports on 127.0.0.1 for servers the tests start as processes (site link,
/// metrics). The port is found by binding port 0 and released before the process binds it:
/// another process could take it in between, which on a test machine is rare enough.</summary>
public static class LoopbackPorts
{
    public static int Free()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    public static string FreeAddress() => $"127.0.0.1:{Free()}";
}
