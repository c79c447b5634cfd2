using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace CsiDriver.ConformanceTests.Faults;

/// <summary>
/// HTTP/2 with prior knowledge on a unix socket, one connection, bodies sent as given: the
/// client side of hostile gRPC frames, which our own client would never build.
/// </summary>
internal sealed class RawGrpcChannel : IDisposable
{
    private readonly HttpClient _http;

    public RawGrpcChannel(string socketPath)
    {
        var endpoint = new UnixDomainSocketEndPoint(socketPath);
        _http = new HttpClient(new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = false,
            ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(endpoint, token);
                return new NetworkStream(socket, ownsSocket: true);
            },
        })
        { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>POSTs <paramref name="body"/> to <paramref name="path"/> as a gRPC call and reads
    /// the whole answer, or the failure to get one within <paramref name="timeout"/>.</summary>
    public async Task<RawAnswer> PostAsync(string path, byte[] body, TimeSpan timeout, Action<HttpRequestMessage>? adjust = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://localhost" + path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        adjust?.Invoke(request);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            using var response = await _http.SendAsync(request, deadline.Token);
            await response.Content.LoadIntoBufferAsync(deadline.Token);
            var status = Header(response.Headers, "grpc-status") ?? Header(response.TrailingHeaders, "grpc-status");
            var message = Header(response.Headers, "grpc-message") ?? Header(response.TrailingHeaders, "grpc-message");
            return new RawAnswer((int)response.StatusCode, status, message is null ? null : Uri.UnescapeDataString(message), null);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            return new RawAnswer(0, null, null, deadline.IsCancellationRequested ? $"no answer within {timeout.TotalSeconds} s" : e.Message);
        }
    }

    public void Dispose() => _http.Dispose();

    private static string? Header(HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;
}

/// <summary>What came back: the HTTP status, the gRPC status and message if any, or the
/// transport failure.</summary>
internal sealed record RawAnswer(int HttpStatus, string? GrpcStatus, string? GrpcMessage, string? Error)
{
    /// <summary>The message our server gives when a handler threw something it did not map:
    /// a handler that crashed on its input.</summary>
    public const string HandlerCrashed = "Exception was thrown by handler.";

    /// <summary>Why this answer shows a defect, or null: no answer, no gRPC status, UNKNOWN, or a
    /// handler that crashed.</summary>
    public string? Defect => this switch
    {
        { Error: { } error } => error,
        { GrpcStatus: null } => $"HTTP {HttpStatus} without a grpc-status",
        { GrpcStatus: "2" } => $"UNKNOWN: {GrpcMessage}",
        { GrpcMessage: HandlerCrashed } => "a handler threw an unmapped exception",
        _ => null,
    };

    public override string ToString() => Error ?? $"HTTP {HttpStatus}, grpc-status {GrpcStatus}, '{GrpcMessage}'";
}
