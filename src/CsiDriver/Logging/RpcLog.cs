using Microsoft.Extensions.Logging;

namespace CsiDriver.Logging;

/// <summary>One line per completed RPC: method, duration, status, and the request with
/// its secrets stripped.</summary>
public static partial class RpcLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "{Method} {Status} in {DurationMs:0.###} ms request={Request}")]
    public static partial void Completed(ILogger logger, string method, string status, double durationMs, string request);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
        Message = "{Method} {Status} in {DurationMs:0.###} ms: {StatusMessage} request={Request}")]
    public static partial void Failed(ILogger logger, string method, string status, double durationMs, string? statusMessage, string request);
}
