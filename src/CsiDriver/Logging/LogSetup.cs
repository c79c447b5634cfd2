using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Formatting.Json;

namespace CsiDriver.Logging;

/// <summary>Serilog as the sink of Microsoft.Extensions.Logging: plain text lines, or one JSON
/// object per line with --log-format json.</summary>
public static class LogSetup
{
    public static ILoggerFactory Create(bool json)
    {
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft", Serilog.Events.LogEventLevel.Warning)
            .Enrich.FromLogContext();
        configuration = json
            ? configuration.WriteTo.Console(new JsonFormatter(renderMessage: true))
            : configuration.WriteTo.Console(outputTemplate: "{Timestamp:o} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}");
        return LoggerFactory.Create(builder => builder.AddSerilog(configuration.CreateLogger(), dispose: true));
    }
}
