using System.CommandLine;
using System.Runtime.InteropServices;
using CsiDriver.Logging;
using CsiDriver.Sessions;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Cli;

/// <summary>`csidriver session-holder`: keeps the node's FUSE sessions across csidriver restarts
/// (see <see cref="SessionHolder"/>) until SIGTERM or SIGINT.</summary>
public static class SessionHolderCommand
{
    public static Command Build()
    {
        var socket = new Option<string>("--socket")
        {
            Description = "Unix socket to serve, the path csidriver serve gets as --session-holder, e.g. /run/formation/sessions.sock",
            Required = true,
        };
        var logFormat = new Option<string>("--log-format") { Description = "Log format", DefaultValueFactory = _ => "text" };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var command = new Command("session-holder",
            "Keep the FUSE sessions of the node's attached volumes so that pods' I/O survives a csidriver restart")
        {
            socket, logFormat,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var loggerFactory = LogSetup.Create(result.GetValue(logFormat) == "json");
            var log = loggerFactory.CreateLogger<SessionHolder>();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            try
            {
                using var holder = new SessionHolder(result.GetValue(socket)!, log);
                await holder.RunAsync(stop.Token);
                return 0;
            }
            catch (IOException e)
            {
                log.LogCritical("session holder cannot run: {Reason}", e.Message);
                return 1;
            }

            void Stop(PosixSignalContext context)
            {
                context.Cancel = true;
                stop.Cancel();
            }
        });
        return command;
    }
}
