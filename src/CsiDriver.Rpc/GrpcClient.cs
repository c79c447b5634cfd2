using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using CsiDriver.Rpc.Client;
using CsiDriver.Rpc.Protocol;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CsiDriver.Rpc;

/// <summary>
/// A gRPC client over HttpClient: HTTP/2 with prior knowledge on a unix socket, or HTTP/2 over TLS
/// on TCP with the server validated against given authorities. A non-OK status is thrown as
/// <see cref="RpcException"/>.
/// </summary>
public sealed class GrpcClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly Uri _baseAddress;

    private GrpcClient(SocketsHttpHandler handler, Uri baseAddress)
    {
        handler.EnableMultipleHttp2Connections = true;
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _baseAddress = baseAddress;
    }

    /// <summary>How long a TCP connection (with its TLS handshake) may take before the call fails
    /// with UNAVAILABLE: a host that drops packets must not hold a call until its deadline.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A response message larger than this fails the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; set; } = GrpcProtocol.DefaultMaxReceiveMessageSize;

    public static GrpcClient ForUnixSocket(string path)
    {
        var endpoint = new UnixDomainSocketEndPoint(path);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        // The authority of a unix-socket call is nominal, as in grpc-go and grpc-js.
        return new GrpcClient(handler, new Uri("http://localhost"));
    }

    /// <summary>HTTP/2 over TLS to host:port. The server's certificate must chain to
    /// <paramref name="trustedAuthorities"/> and carry <paramref name="serverName"/>, or the host
    /// when no name is given (a name serves peers whose addresses are not known in advance).</summary>
    public static GrpcClient ForTcp(string host, int port, X509Certificate2Collection trustedAuthorities, X509Certificate2? clientCertificate = null, string? serverName = null)
    {
        ArgumentNullException.ThrowIfNull(trustedAuthorities);
        var handler = new SocketsHttpHandler
        {
            SslOptions = TlsSettings.ForClient(host, trustedAuthorities, clientCertificate, serverName),
            ConnectTimeout = ConnectTimeout,
        };
        return new GrpcClient(handler, new UriBuilder(Uri.UriSchemeHttps, host, port).Uri);
    }

    public Task<TResponse> UnaryAsync<TRequest, TResponse>(MethodDescriptor method, TRequest request, CallOptions? options = null)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        UnaryAsync<TRequest, TResponse>(GrpcProtocol.PathOf(method), request, options);

    /// <summary>A unary call by raw path ("/package.Service/Method").</summary>
    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(string path, TRequest request, CallOptions? options = null)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new()
    {
        using var call = StartCall<TResponse>(path, options, new ByteArrayContent(MessageFraming.ToFrame(request)));
        await call.SendAsync().ConfigureAwait(false);
        var response = await call.ReadNextAsync().ConfigureAwait(false)
            ?? throw new RpcException(StatusCode.Internal, "The server sent no response message");
        if (await call.ReadNextAsync().ConfigureAwait(false) is not null)
        {
            throw new RpcException(StatusCode.Internal, "The server sent more than one response message");
        }
        return response;
    }

    public async IAsyncEnumerable<TResponse> ServerStreamingAsync<TRequest, TResponse>(MethodDescriptor method, TRequest request, CallOptions? options = null)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new()
    {
        using var call = StartCall<TResponse>(GrpcProtocol.PathOf(method), options, new ByteArrayContent(MessageFraming.ToFrame(request)));
        await call.SendAsync().ConfigureAwait(false);
        await foreach (var message in call.ReadAllAsync().ConfigureAwait(false))
        {
            yield return message;
        }
    }

    public DuplexCall<TRequest, TResponse> Duplex<TRequest, TResponse>(MethodDescriptor method, CallOptions? options = null)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new()
    {
        var content = new StreamingRequestContent();
        return new DuplexCall<TRequest, TResponse>(StartCall<TResponse>(GrpcProtocol.PathOf(method), options, content), content);
    }

    public void Dispose() => _http.Dispose();

    private ClientCall<TResponse> StartCall<TResponse>(string path, CallOptions? options, HttpContent content)
        where TResponse : IMessage<TResponse>, new() =>
        new(_http, new Uri(_baseAddress, path), options, MaxReceiveMessageSize, content);
}
