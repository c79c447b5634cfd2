using Microsoft.Extensions.Logging;

namespace CsiDriver.Logging;

/// <summary>One line per completed RPC: method, duration, status, and the request with
/// its secrets stripped.</summary>
public static partial class RpcLog
{
    /// <summary>Most characters of a request or status message one log line carries.</summary>
    public const int MaxFieldChars = 4096;

    /// <summary><paramref name="text"/> cut to <see cref="MaxFieldChars"/>, saying how much was
    /// left out: a log line never carries an unbounded field, whatever a caller sent.</summary>
    public static string? Bounded(string? text) =>
        text is null || text.Length <= MaxFieldChars ? text : $"{text[..MaxFieldChars]}… ({text.Length - MaxFieldChars} more characters)";

    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "{Method} {Status} in {DurationMs:0.###} ms request={Request}")]
    public static partial void Completed(ILogger logger, string method, string status, double durationMs, string request);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
        Message = "{Method} {Status} in {DurationMs:0.###} ms: {StatusMessage} request={Request}")]
    public static partial void Failed(ILogger logger, string method, string status, double durationMs, string? statusMessage, string request);
}
