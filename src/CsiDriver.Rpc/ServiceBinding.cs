using CsiDriver.Rpc.Protocol;
using CsiDriver.Rpc.Server;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CsiDriver.Rpc;

/// <summary>
/// The handlers of one protobuf service. Each binding is checked against the service descriptor
/// (method exists, streaming kind, request and response types); a method left unbound answers
/// UNIMPLEMENTED.
/// </summary>
public sealed class ServiceBinding
{
    private readonly Dictionary<string, Func<CallSettings, ServerCallHandler>> _handlers = new(StringComparer.Ordinal);

    public ServiceBinding(ServiceDescriptor service)
    {
        Service = service ?? throw new ArgumentNullException(nameof(service));
    }

    public ServiceDescriptor Service { get; }

    /// <summary>
    /// Turns an exception a handler of this service throws into the status the client sees, or
    /// returns null to leave it an INTERNAL error with nothing leaked. The layer that owns the
    /// exception types (an engine, a host) chooses its codes in one place instead of wrapping
    /// every handler.
    /// </summary>
    public Func<Exception, RpcException?>? TranslateException { get; init; }

    /// <summary>Runs on the request of every unary and server-streaming call of this service
    /// before its handler, after it is recorded for <see cref="CallCompletion"/>; throw
    /// <see cref="RpcException"/> to refuse the call (checks an interface sets on every field,
    /// such as size limits, kept out of each handler).</summary>
    public Action<IMessage>? CheckRequest { get; private set; }

    /// <summary>Sets <see cref="CheckRequest"/>.</summary>
    public ServiceBinding CheckingRequests(Action<IMessage> check)
    {
        CheckRequest = check ?? throw new ArgumentNullException(nameof(check));
        return this;
    }

    public ServiceBinding Unary<TRequest, TResponse>(string methodName, UnaryHandler<TRequest, TResponse> handler)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse> =>
        Bind<TRequest, TResponse>(methodName, false, false, handler,
            (path, settings) => new UnaryServerCallHandler<TRequest, TResponse>(path, settings, handler));

    public ServiceBinding ServerStreaming<TRequest, TResponse>(string methodName, ServerStreamingHandler<TRequest, TResponse> handler)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse> =>
        Bind<TRequest, TResponse>(methodName, false, true, handler,
            (path, settings) => new ServerStreamingServerCallHandler<TRequest, TResponse>(path, settings, handler));

    public ServiceBinding ClientStreaming<TRequest, TResponse>(string methodName, ClientStreamingHandler<TRequest, TResponse> handler)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse> =>
        Bind<TRequest, TResponse>(methodName, true, false, handler,
            (path, settings) => new ClientStreamingServerCallHandler<TRequest, TResponse>(path, settings, handler));

    /// <param name="decode">Turns each request's serialized bytes into the message, for a method
    /// whose requests want more than the generated parser gives (the site link's payloads without a
    /// copy each); it throws <see cref="InvalidProtocolBufferException"/> on malformed bytes, as
    /// the parser does. The bytes are valid during the call only. Default: the generated parser.</param>
    public ServiceBinding DuplexStreaming<TRequest, TResponse>(string methodName, DuplexStreamingHandler<TRequest, TResponse> handler, Func<System.Buffers.ReadOnlySequence<byte>, TRequest>? decode = null)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse> =>
        Bind<TRequest, TResponse>(methodName, true, true, handler,
            (path, settings) => new DuplexStreamingServerCallHandler<TRequest, TResponse>(path, settings, handler, decode ?? RequestParser<TRequest>.Instance.ParseFrom));

    /// <summary>One handler per method of the descriptor, keyed by path; unbound ones refuse.</summary>
    internal IEnumerable<KeyValuePair<string, ServerCallHandler>> CreateHandlers(CallSettings settings)
    {
        foreach (var method in Service.Methods)
        {
            var path = GrpcProtocol.PathOf(method);
            var handler = _handlers.TryGetValue(method.Name, out var create)
                ? create(settings with { TranslateException = TranslateException, CheckRequest = CheckRequest })
                : new UnimplementedServerCallHandler(path, settings, $"Method '{method.Name}' of service '{Service.FullName}' is not implemented");
            yield return new(path, handler);
        }
    }

    private ServiceBinding Bind<TRequest, TResponse>(
        string methodName, bool clientStreaming, bool serverStreaming, Delegate handler,
        Func<string, CallSettings, ServerCallHandler> create)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var method = Service.FindMethodByName(methodName)
            ?? throw new ArgumentException($"Service '{Service.FullName}' has no method '{methodName}'.", nameof(methodName));
        if (method.IsClientStreaming != clientStreaming || method.IsServerStreaming != serverStreaming)
        {
            throw new ArgumentException(
                $"Method '{Service.FullName}/{methodName}' is {KindOf(method.IsClientStreaming, method.IsServerStreaming)}, " +
                $"not {KindOf(clientStreaming, serverStreaming)}.", nameof(methodName));
        }
        if (method.InputType.ClrType != typeof(TRequest) || method.OutputType.ClrType != typeof(TResponse))
        {
            throw new ArgumentException(
                $"Method '{Service.FullName}/{methodName}' takes {method.InputType.FullName} and returns {method.OutputType.FullName}, " +
                $"not {typeof(TRequest).Name} and {typeof(TResponse).Name}.", nameof(methodName));
        }
        if (_handlers.ContainsKey(methodName))
        {
            throw new ArgumentException($"Method '{Service.FullName}/{methodName}' is already bound.", nameof(methodName));
        }
        var path = GrpcProtocol.PathOf(method);
        _handlers.Add(methodName, settings => create(path, settings));
        return this;
    }

    private static string KindOf(bool clientStreaming, bool serverStreaming) => (clientStreaming, serverStreaming) switch
    {
        (false, false) => "unary",
        (false, true) => "server-streaming",
        (true, false) => "client-streaming",
        (true, true) => "bidirectional-streaming",
    };
}
