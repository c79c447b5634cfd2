using Microsoft.Extensions.Logging;

namespace CsiDriver.Rpc.Server;

/// <summary>
/// The logger factory handed to the embedded ASP.NET Core host: Kestrel's and the host's own
/// categories pass only warnings and errors, so the plugin's one line per call (written by the
/// call observer) is not joined by per-request framework lines.
/// </summary>
internal sealed class FrameworkLogFilter(ILoggerFactory inner) : ILoggerFactory
{
    private const string FrameworkPrefix = "Microsoft.";

    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        return categoryName.StartsWith(FrameworkPrefix, StringComparison.Ordinal) ? new WarningsOnly(logger) : logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    /// <summary>The inner factory belongs to the caller; the host must not dispose it.</summary>
    public void Dispose()
    {
    }

    private sealed class WarningsOnly(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
