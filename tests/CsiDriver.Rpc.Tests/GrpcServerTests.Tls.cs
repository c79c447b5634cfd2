using System.Net;
using System.Security.Cryptography.X509Certificates;
using CsiDriver.Rpc.Tests.Echo;
using CsiDriver.Rpc.Tests.Support;

namespace CsiDriver.Rpc.Tests;

/// <summary>HTTP/2 over TLS on TCP loopback, with and without client certificates.</summary>
public partial class GrpcServerTests
{
    [Fact]
    public async Task Mutual_tls_admits_a_client_of_our_authority_and_shows_its_certificate()
    {
        using var certificates = new TestCertificates();
        var service = new EchoService();
        await using var server = await StartTcpAsync(certificates, certificates.Authorities, service);
        var port = Assert.IsType<IPEndPoint>(Assert.Single(server.BoundEndpoints)).Port;
        Assert.NotEqual(0, port);

        foreach (var host in new[] { "127.0.0.1", "localhost" })
        {
            using var client = GrpcClient.ForTcp(host, port, certificates.Authorities, certificates.Client);
            var reply = await client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = host });
            Assert.Equal(host, reply.Text);
            Assert.Equal(certificates.Client.Thumbprint, service.LastContext!.ClientCertificate?.Thumbprint);
        }

        using var streaming = GrpcClient.ForTcp("127.0.0.1", port, certificates.Authorities, certificates.Client);
        await using var call = streaming.Duplex<EchoRequest, EchoReply>(EchoService.Method("Chat"));
        await call.WriteAsync(new EchoRequest { Text = "over tls" });
        await call.CompleteAsync();
        Assert.Equal(["OVER TLS"], (await call.ResponseStream.ToListAsync()).Select(r => r.Text));
    }

    [Fact]
    public async Task Mutual_tls_refuses_a_client_of_another_authority_or_none()
    {
        using var certificates = new TestCertificates();
        var service = new EchoService();
        await using var server = await StartTcpAsync(certificates, certificates.Authorities, service);
        var port = ((IPEndPoint)server.BoundEndpoints[0]).Port;

        foreach (var clientCertificate in new[] { certificates.ForeignClient, null })
        {
            using var client = GrpcClient.ForTcp("127.0.0.1", port, certificates.Authorities, clientCertificate);
            var ex = await Assert.ThrowsAsync<RpcException>(() =>
                client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "let me in" }));
            Assert.Equal(StatusCode.Unavailable, ex.Status);
        }
        Assert.Null(service.LastContext);
    }

    [Fact]
    public async Task Client_refuses_a_server_outside_its_trusted_authorities()
    {
        using var certificates = new TestCertificates();
        var service = new EchoService();
        await using var server = await StartTcpAsync(certificates, clientAuthorities: null, service);
        var port = ((IPEndPoint)server.BoundEndpoints[0]).Port;

        using (var trusting = GrpcClient.ForTcp("127.0.0.1", port, certificates.Authorities))
        {
            // Without client authorities the endpoint is plain TLS: no client certificate needed.
            var reply = await trusting.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "tls" });
            Assert.Equal("tls", reply.Text);
            Assert.Null(service.LastContext!.ClientCertificate);
        }
        using var suspicious = GrpcClient.ForTcp("127.0.0.1", port, [certificates.ForeignAuthority]);
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            suspicious.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "x" }));
        Assert.Equal(StatusCode.Unavailable, ex.Status);
    }

    private static async Task<GrpcServer> StartTcpAsync(
        TestCertificates certificates, X509Certificate2Collection? clientAuthorities, EchoService service,
        Action<GrpcServerOptions>? configure = null)
    {
        var options = new GrpcServerOptions();
        configure?.Invoke(options);
        options.Endpoints.Add(new ServerEndpoint.Tcp(new IPEndPoint(IPAddress.Loopback, 0), certificates.Server, clientAuthorities));
        var server = new GrpcServer(options, [EchoService.Bind(service)]);
        await server.StartAsync();
        return server;
    }
}
