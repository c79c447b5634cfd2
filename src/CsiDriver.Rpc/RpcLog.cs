using Microsoft.Extensions.Logging;

namespace CsiDriver.Rpc;

/// <summary>The transport's own log lines. Request contents are never logged here.</summary>
internal static partial class RpcLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Handler of {Method} failed")]
    public static partial void HandlerFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Call observer failed after {Method}")]
    public static partial void ObserverFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "gRPC server listening on {Endpoint}")]
    public static partial void Listening(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Removed stale unix socket {Path}")]
    public static partial void StaleSocketRemoved(ILogger logger, string path);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "gRPC server stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 6, Level = LogLevel.Debug, Message = "Handler of {Method} stopped with {ExceptionType} after its call was cancelled")]
    public static partial void HandlerStoppedByCancellation(ILogger logger, string method, string exceptionType);
}
