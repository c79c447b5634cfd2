using Microsoft.Extensions.Logging;

namespace CsiDriver.Rpc;

public sealed class GrpcServerOptions
{
    public List<ServerEndpoint> Endpoints { get; } = new();

    /// <summary>A request message larger than this ends the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; set; } = Protocol.GrpcProtocol.DefaultMaxReceiveMessageSize;

    /// <summary>HTTP/2 receive window per stream and per connection: how many request bytes a
    /// client may send ahead of the server reading them. Null keeps Kestrel's defaults (768 KiB
    /// and 1 MiB), which bound a stream to about a window per round trip on a long link.</summary>
    public int? ReceiveWindowBytes { get; set; }

    /// <summary>Called once per finished call; exceptions it throws are logged and swallowed.</summary>
    public Action<CallCompletion>? OnCallCompleted { get; set; }

    /// <summary>The clock for deadlines and call durations.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// How long a TCP connection with no call in flight stays open before the server closes it;
    /// the default is Kestrel's (130 s). Our clients dial again on their next call, and a peer
    /// that vanished across a network does not hold its connection forever. Unix-socket
    /// endpoints ignore this: see <see cref="GrpcServer.IdleConnectionTimeout"/>.
    /// </summary>
    public TimeSpan TcpIdleConnectionTimeout { get; set; } = DefaultTcpIdleConnectionTimeout;

    public static TimeSpan DefaultTcpIdleConnectionTimeout { get; } = TimeSpan.FromSeconds(130);

    /// <summary>How long StopAsync lets calls in flight finish before they are aborted.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
