namespace CsiDriver.Rpc.Tests;

public class ServerEndpointTests
{
    [Theory]
    [InlineData("unix:///var/lib/kubelet/plugins/csi.sock", "/var/lib/kubelet/plugins/csi.sock")]
    [InlineData("unix:/csi/csi.sock", "/csi/csi.sock")]
    [InlineData("UNIX:///tmp/x.sock", "/tmp/x.sock")]
    public void Parses_unix_endpoints(string uri, string path)
    {
        Assert.Equal(new ServerEndpoint.UnixSocket(path), ServerEndpoint.Parse(uri));
    }

    [Theory]
    [InlineData("tcp://127.0.0.1:10000")]
    [InlineData("/tmp/csi.sock")]
    [InlineData("unix://relative/csi.sock")]
    [InlineData("unix:relative.sock")]
    [InlineData("unix://")]
    [InlineData("unix:////")]
    public void Refuses_anything_else_with_a_clear_message(string uri)
    {
        var ex = Assert.Throws<FormatException>(() => ServerEndpoint.Parse(uri));
        Assert.Contains(uri, ex.Message);
        Assert.Contains("unix:///absolute/path", ex.Message);
    }
}
