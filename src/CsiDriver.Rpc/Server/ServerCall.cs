using System.Buffers;
using System.Globalization;
using CsiDriver.Rpc.Protocol;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace CsiDriver.Rpc.Server;

/// <summary>
/// The server side of one call: its context, its deadline and cancellation, the response headers,
/// messages and final status. Headers go out with the first message; a call that ends before any
/// message answers Trailers-Only (status in the headers, no body).
/// </summary>
internal sealed class ServerCall : IDisposable
{
    private readonly HttpContext _http;
    private readonly CallSettings _settings;
    private readonly CancellationTokenSource _cancellation;
    private CallDeadline? _deadline;
    private CallContext? _context;
    private bool _headersSent;
    private bool _completed;
    private int _writing;

    public ServerCall(HttpContext http, string method, CallSettings settings)
    {
        _http = http;
        _settings = settings;
        Method = method;
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
    }

    public string Method { get; }

    public CallContext Context => _context ?? throw new InvalidOperationException("The call is not initialized.");

    /// <summary>The request of a unary or server-streaming call, once read; for the observer.</summary>
    public IMessage? Request { get; set; }

    public bool DeadlineExceeded => _deadline?.Expired == true;

    public bool ClientCancelled => _http.RequestAborted.IsCancellationRequested;

    public CancellationToken CancellationToken => _cancellation.Token;

    /// <summary>Reads deadline, encoding and metadata; a bad header ends the call with an RpcException.</summary>
    public void Initialize()
    {
        var headers = _http.Request.Headers;
        var encoding = headers[GrpcProtocol.EncodingHeader].ToString();
        if (encoding.Length > 0 && !encoding.Equals(GrpcProtocol.IdentityEncoding, StringComparison.OrdinalIgnoreCase))
        {
            throw new RpcException(StatusCode.Unimplemented,
                $"Message compression '{encoding}' is not supported; this server accepts grpc-encoding identity only");
        }
        DateTime? deadline = null;
        var timeout = headers[GrpcProtocol.TimeoutHeader].ToString();
        if (timeout.Length > 0)
        {
            if (!GrpcTimeout.TryParse(timeout, out var span))
            {
                throw new RpcException(StatusCode.Internal, $"Malformed grpc-timeout header '{timeout}'");
            }
            _deadline = new CallDeadline(_settings.TimeProvider, span, _cancellation);
            deadline = _deadline.Deadline.UtcDateTime;
        }
        var (text, binary) = RequestMetadata.Parse(headers);
        _context = new CallContext(Method, text, binary, deadline, _cancellation.Token, _http.Connection.ClientCertificate, _http.Connection.Id);
    }

    public async Task<T> ReadSingleRequestAsync<T>(MessageParser<T> parser)
        where T : IMessage<T>
    {
        var reader = _http.Request.BodyReader;
        var max = _settings.MaxReceiveMessageSize;
        var request = await MessageFraming.ReadMessageAsync(reader, parser, max, CancellationToken).ConfigureAwait(false)
            ?? throw new RpcException(StatusCode.Internal, "The call carried no request message");
        if (await MessageFraming.ReadMessageAsync(reader, parser, max, CancellationToken).ConfigureAwait(false) is not null)
        {
            throw new RpcException(StatusCode.Internal, "The call carried more than one request message");
        }
        return request;
    }

    public IAsyncEnumerable<T> ReadRequestsAsync<T>(MessageParser<T> parser)
        where T : IMessage<T> =>
        ReadRequestsAsync<T>(parser.ParseFrom);

    public async IAsyncEnumerable<T> ReadRequestsAsync<T>(Func<ReadOnlySequence<byte>, T> decode)
        where T : IMessage<T>
    {
        var reader = _http.Request.BodyReader;
        while (await MessageFraming.ReadMessageAsync(reader, decode, _settings.MaxReceiveMessageSize, CancellationToken)
                   .ConfigureAwait(false) is { } message)
        {
            yield return message;
        }
    }

    public async Task WriteMessageAsync(IMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_completed)
        {
            throw new InvalidOperationException("The call is complete; no more messages can be written.");
        }
        if (Interlocked.Exchange(ref _writing, 1) == 1)
        {
            throw new InvalidOperationException("A message is already being written; writes must not overlap.");
        }
        try
        {
            if (!_headersSent)
            {
                SetResponseHeaders();
                _headersSent = true;
            }
            var body = _http.Response.BodyWriter;
            MessageFraming.WriteMessage(body, message);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(CancellationToken, cancellationToken);
            await body.FlushAsync(linked.Token).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    /// <summary>Sends the status: in trailers after messages, or Trailers-Only when none were sent.</summary>
    public async Task CompleteAsync(StatusCode status, string? message)
    {
        _completed = true;
        if (ClientCancelled)
        {
            return;
        }
        var response = _http.Response;
        var code = ((int)status).ToString(CultureInfo.InvariantCulture);
        var encodedMessage = string.IsNullOrEmpty(message) ? null : StatusMessageEncoding.Encode(message);
        try
        {
            if (!_headersSent && !response.HasStarted)
            {
                SetResponseHeaders();
                response.Headers[GrpcProtocol.StatusTrailer] = code;
                if (encodedMessage is not null)
                {
                    response.Headers[GrpcProtocol.MessageTrailer] = encodedMessage;
                }
            }
            else
            {
                response.AppendTrailer(GrpcProtocol.StatusTrailer, code);
                if (encodedMessage is not null)
                {
                    response.AppendTrailer(GrpcProtocol.MessageTrailer, encodedMessage);
                }
            }
            await response.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException || ClientCancelled)
        {
            // The client went away while the status was being sent; nobody is left to tell.
        }
    }

    public void Dispose()
    {
        _deadline?.Dispose();
        _cancellation.Dispose();
    }

    private void SetResponseHeaders()
    {
        var response = _http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcProtocol.ContentType;
        response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.IdentityEncoding;
    }
}
