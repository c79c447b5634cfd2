using Microsoft.Extensions.Logging;

namespace CsiDriver.Rpc;

public sealed class GrpcServerOptions
{
    public List<ServerEndpoint> Endpoints { get; } = new();

    /// <summary>A request message larger than this ends the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; set; } = Protocol.GrpcProtocol.DefaultMaxReceiveMessageSize;

    /// <summary>Called once per finished call; exceptions it throws are logged and swallowed.</summary>
    public Action<CallCompletion>? OnCallCompleted { get; set; }

    /// <summary>The clock for deadlines and call durations.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>How long StopAsync lets calls in flight finish before they are aborted.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
