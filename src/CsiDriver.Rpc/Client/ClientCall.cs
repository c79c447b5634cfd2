using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using CsiDriver.Rpc.Protocol;
using Google.Protobuf;

namespace CsiDriver.Rpc.Client;

/// <summary>
/// The client side of one call: sends the request headers and body, checks the response headers,
/// reads response messages, and ends with the status from the trailers, or from the headers of a
/// Trailers-Only response. Every failure surfaces as an <see cref="RpcException"/>.
/// </summary>
internal sealed class ClientCall<TResponse> : IDisposable
    where TResponse : IMessage<TResponse>, new()
{
    private static readonly MessageParser<TResponse> Parser = new(() => new TResponse());

    private readonly HttpClient _http;
    private readonly HttpRequestMessage _request;
    private readonly CallOptions _options;
    private readonly CancellationTokenSource _cancellation;
    private readonly int _maxReceiveMessageSize;
    private HttpResponseMessage? _response;
    private PipeReader? _body;
    private bool _finished;

    public ClientCall(HttpClient http, Uri address, CallOptions? options, int maxReceiveMessageSize, HttpContent content)
    {
        _http = http;
        _options = options ?? new CallOptions();
        _maxReceiveMessageSize = maxReceiveMessageSize;
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(_options.CancellationToken);
        _request = new HttpRequestMessage(HttpMethod.Post, address)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        content.Headers.ContentType = new MediaTypeHeaderValue(GrpcProtocol.ContentType);
        var headers = _request.Headers;
        headers.TE.Add(new TransferCodingWithQualityHeaderValue(GrpcProtocol.TeTrailers));
        headers.TryAddWithoutValidation(GrpcProtocol.AcceptEncodingHeader, GrpcProtocol.IdentityEncoding);
        if (_options.Timeout is { } timeout)
        {
            headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, GrpcTimeout.Format(timeout));
        }
        foreach (var (name, value) in _options.Headers ?? new Dictionary<string, string>())
        {
            if (!headers.TryAddWithoutValidation(name.ToLowerInvariant(), value))
            {
                throw new ArgumentException($"Header '{name}' cannot be sent as gRPC metadata.", nameof(options));
            }
        }
    }

    public CancellationToken CancellationToken => _cancellation.Token;

    /// <summary>Sends the call and waits for the response headers.</summary>
    public async Task SendAsync()
    {
        if (_options.Timeout is { } timeout)
        {
            _cancellation.CancelAfter(timeout <= TimeSpan.Zero ? TimeSpan.Zero : timeout);
        }
        try
        {
            _response = await _http.SendAsync(_request, HttpCompletionOption.ResponseHeadersRead, CancellationToken)
                .ConfigureAwait(false);
            CheckResponseHeaders(_response);
            if (!_finished)
            {
                var stream = await _response.Content.ReadAsStreamAsync(CancellationToken).ConfigureAwait(false);
                _body = PipeReader.Create(stream);
            }
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Translate(ex);
        }
    }

    /// <summary>The next response message, or default once the call ended with OK.</summary>
    public async Task<TResponse?> ReadNextAsync()
    {
        if (_finished)
        {
            return default;
        }
        var body = _body ?? throw new InvalidOperationException("The call was not sent.");
        try
        {
            var message = await MessageFraming.ReadMessageAsync(body, Parser, _maxReceiveMessageSize, CancellationToken)
                .ConfigureAwait(false);
            if (message is not null)
            {
                return message;
            }
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Translate(ex);
        }
        _finished = true;
        ThrowIfNotOk(ReadStatus(_response!.TrailingHeaders)
            ?? (StatusCode.Internal, "The response ended without a grpc-status trailer"));
        return default;
    }

    public async IAsyncEnumerable<TResponse> ReadAllAsync()
    {
        while (await ReadNextAsync().ConfigureAwait(false) is { } message)
        {
            yield return message;
        }
    }

    /// <summary>Turns a transport failure into the status a gRPC client reports for it.</summary>
    public RpcException Translate(Exception ex)
    {
        if (ex is RpcException rpc)
        {
            return rpc;
        }
        if (ex is OperationCanceledException)
        {
            return _options.CancellationToken.IsCancellationRequested || _options.Timeout is null
                ? new RpcException(StatusCode.Cancelled, "Call cancelled")
                : new RpcException(StatusCode.DeadlineExceeded, "Deadline exceeded");
        }
        for (var inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is HttpProtocolException protocol)
            {
                // RST_STREAM CANCEL (0x8) means the peer cancelled; any other reset is an error.
                return protocol.ErrorCode == 0x8
                    ? new RpcException(StatusCode.Cancelled, "Call cancelled by the server")
                    : new RpcException(StatusCode.Internal, $"HTTP/2 stream error: {protocol.Message}");
            }
        }
        // The innermost failure says why (refused, unreachable, which certificate check failed).
        var cause = ex;
        while (cause.InnerException is { } inner)
        {
            cause = inner;
        }
        return new RpcException(StatusCode.Unavailable, cause == ex ? $"Connection failed: {ex.Message}" : $"Connection failed: {ex.Message} ({cause.Message})");
    }

    public void Dispose()
    {
        _cancellation.Cancel();
        _body?.Complete();
        _response?.Dispose();
        _request.Dispose();
        _cancellation.Dispose();
    }

    private void CheckResponseHeaders(HttpResponseMessage response)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new RpcException(FromHttpStatus(response.StatusCode),
                $"Bad gRPC response: HTTP status {(int)response.StatusCode}");
        }
        if (ReadStatus(response.Headers) is { } trailersOnly)
        {
            _finished = true;
            ThrowIfNotOk(trailersOnly);
            return;
        }
        var contentType = response.Content.Headers.ContentType?.ToString();
        if (!GrpcProtocol.IsGrpcContentType(contentType))
        {
            throw new RpcException(StatusCode.Internal, $"Bad gRPC response: content-type '{contentType}'");
        }
    }

    private static (StatusCode Status, string Message)? ReadStatus(HttpHeaders headers)
    {
        if (!headers.TryGetValues(GrpcProtocol.StatusTrailer, out var statusValues))
        {
            return null;
        }
        var status = int.TryParse(statusValues.FirstOrDefault(), out var code) && Enum.IsDefined((StatusCode)code)
            ? (StatusCode)code
            : StatusCode.Unknown;
        var message = headers.TryGetValues(GrpcProtocol.MessageTrailer, out var messageValues)
            ? StatusMessageEncoding.Decode(messageValues.FirstOrDefault() ?? "")
            : "";
        return (status, message);
    }

    private static void ThrowIfNotOk((StatusCode Status, string Message) status)
    {
        if (status.Status != StatusCode.OK)
        {
            throw new RpcException(status.Status, status.Message);
        }
    }

    /// <summary>The HTTP-to-gRPC status mapping of the gRPC spec (doc/http-grpc-status-mapping.md).</summary>
    private static StatusCode FromHttpStatus(HttpStatusCode status) => (int)status switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };
}
