using Microsoft.Extensions.Logging;

namespace CsiDriver.Rpc.Server;

/// <summary>The settings every call handler needs: the server's, plus its service's exception
/// translator and request check (<see cref="ServiceBinding.TranslateException"/>,
/// <see cref="ServiceBinding.CheckRequest"/>).</summary>
internal sealed record CallSettings(
    int MaxReceiveMessageSize, TimeProvider TimeProvider, Action<CallCompletion>? OnCallCompleted, ILogger Logger,
    Func<Exception, RpcException?>? TranslateException = null,
    Action<Google.Protobuf.IMessage>? CheckRequest = null);
