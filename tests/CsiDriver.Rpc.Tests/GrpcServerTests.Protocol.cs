using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using CsiDriver.Rpc.Protocol;
using CsiDriver.Rpc.Tests.Echo;

namespace CsiDriver.Rpc.Tests;

/// <summary>The wire shape of answers, seen with a bare HTTP/2 client rather than ours.</summary>
public partial class GrpcServerTests
{
    [Fact]
    public async Task Unknown_method_is_a_trailers_only_grpc_response()
    {
        using var response = await PostRawAsync("/formation.test.Echo/Nope", MessageFraming.ToFrame(new EchoRequest()));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/grpc", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("12", Assert.Single(response.Headers.GetValues("grpc-status")));
        Assert.Equal("identity", Assert.Single(response.Headers.GetValues("grpc-accept-encoding")));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Empty(response.TrailingHeaders);
    }

    [Fact]
    public async Task Successful_call_puts_its_status_in_trailers()
    {
        using var response = await PostRawAsync("/formation.test.Echo/Say", MessageFraming.ToFrame(new EchoRequest { Text = "t" }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("grpc-status"));
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(new EchoReply { Text = "t" }, EchoReply.Parser.ParseFrom(body.AsSpan(MessageFraming.HeaderSize)));
        Assert.Equal("0", Assert.Single(response.TrailingHeaders.GetValues("grpc-status")));
    }

    [Fact]
    public async Task Compressed_frame_is_refused_with_a_clear_message()
    {
        var frame = MessageFraming.ToFrame(new EchoRequest { Text = "t" });
        frame[0] = 1;
        using var response = await PostRawAsync("/formation.test.Echo/Say", frame);
        Assert.Equal("13", Assert.Single(response.Headers.GetValues("grpc-status")));
        Assert.Contains("compression is not supported", Uri.UnescapeDataString(Assert.Single(response.Headers.GetValues("grpc-message"))));
    }

    [Fact]
    public async Task Unsupported_grpc_encoding_is_unimplemented()
    {
        using var response = await PostRawAsync("/formation.test.Echo/Say", MessageFraming.ToFrame(new EchoRequest()),
            request => request.Headers.Add("grpc-encoding", "gzip"));
        Assert.Equal("12", Assert.Single(response.Headers.GetValues("grpc-status")));
        Assert.Contains("'gzip' is not supported", Uri.UnescapeDataString(Assert.Single(response.Headers.GetValues("grpc-message"))));
    }

    [Fact]
    public async Task Malformed_timeout_is_refused()
    {
        using var response = await PostRawAsync("/formation.test.Echo/Say", MessageFraming.ToFrame(new EchoRequest()),
            request => request.Headers.Add("grpc-timeout", "soon"));
        Assert.Equal("13", Assert.Single(response.Headers.GetValues("grpc-status")));
    }

    [Fact]
    public async Task Wrong_content_type_is_not_a_grpc_call()
    {
        using var response = await PostRawAsync("/formation.test.Echo/Say", [1, 2, 3],
            request => request.Content!.Headers.ContentType = new MediaTypeHeaderValue("application/json"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Empty(_server.Completions);
    }

    private async Task<HttpResponseMessage> PostRawAsync(string path, byte[] body, Action<HttpRequestMessage>? adjust = null)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(_server.SocketPath), token);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        using var http = new HttpClient(handler);
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://localhost" + path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        adjust?.Invoke(request);
        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }
}
