using System.Net;
using CsiDriver.Replication;

namespace CsiDriver.Replication.Tests;

public sealed class SiteLinkAddressTests
{
    [Theory]
    [InlineData("10.0.0.7:7400", "10.0.0.7", 7400)]
    [InlineData("backup.example:7400", "backup.example", 7400)]
    [InlineData("[::1]:7400", "::1", 7400)]
    public void Host_and_port_are_parsed(string text, string host, int port)
    {
        var address = SiteLinkAddress.Parse(text);
        Assert.Equal(new SiteLinkAddress(host, port), address);
        Assert.Equal(text, address.ToString());
    }

    [Theory]
    [InlineData("backup")]
    [InlineData("backup:")]
    [InlineData(":7400")]
    [InlineData("backup:0")]
    [InlineData("backup:70000")]
    [InlineData("backup:-1")]
    public void Anything_else_is_refused(string text) =>
        Assert.Throws<FormatException>(() => SiteLinkAddress.Parse(text));

    [Fact]
    public void An_ip_literal_is_bound_as_given_and_a_name_on_every_address()
    {
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 7400), SiteLinkAddress.Parse("127.0.0.1:7400").ToListenEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Any, 7400), SiteLinkAddress.Parse("backup.example:7400").ToListenEndPoint());
    }
}
