using System.Net;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class NbdEndpointTests
{
    [Fact]
    public void Parses_unix_and_loopback_tcp_endpoints()
    {
        Assert.Equal("/run/formation/nbd.sock", NbdEndpoint.Parse("unix:///run/formation/nbd.sock").UnixSocketPath);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 10809), NbdEndpoint.Parse("tcp://127.0.0.1:10809").Tcp);
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 10809), NbdEndpoint.Parse("tcp://[::1]:10809").Tcp);
        Assert.Equal("unix:///data/nbd.sock", NbdEndpoint.Default("/data").ToString());
    }

    [Theory]
    [InlineData("tcp://0.0.0.0:10809")]
    [InlineData("tcp://10.1.2.3:10809")]
    [InlineData("unix://relative/path")]
    [InlineData("nbd://localhost")]
    [InlineData("/just/a/path")]
    public void Refuses_non_loopback_relative_or_unknown_endpoints(string text) =>
        Assert.Throws<ArgumentException>(() => NbdEndpoint.Parse(text));
}
