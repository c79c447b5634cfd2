using Microsoft.Extensions.Logging;

namespace CsiDriver.Rpc.Server;

/// <summary>The settings every call handler needs: the server's, plus its service's exception
/// translator (<see cref="ServiceBinding.TranslateException"/>).</summary>
internal sealed record CallSettings(
    int MaxReceiveMessageSize, TimeProvider TimeProvider, Action<CallCompletion>? OnCallCompleted, ILogger Logger,
    Func<Exception, RpcException?>? TranslateException = null);
