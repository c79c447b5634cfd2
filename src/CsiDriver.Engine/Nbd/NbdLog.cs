using Microsoft.Extensions.Logging;

namespace CsiDriver.Engine.Nbd;

/// <summary>Everything the NBD server logs.</summary>
internal static partial class NbdLog
{
    [LoggerMessage(1, LogLevel.Information, "NBD server listening on {Endpoint}")]
    public static partial void Listening(ILogger logger, NbdEndpoint endpoint);

    [LoggerMessage(2, LogLevel.Information, "NBD server stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(3, LogLevel.Debug, "NBD connection {Connection} opened")]
    public static partial void ConnectionOpened(ILogger logger, long connection);

    [LoggerMessage(4, LogLevel.Debug, "NBD connection {Connection} closed after {Requests} requests")]
    public static partial void ConnectionClosed(ILogger logger, long connection, long requests);

    [LoggerMessage(5, LogLevel.Information, "NBD connection {Connection} attached export '{Export}' ({Size} bytes, flags {Flags})")]
    public static partial void ExportAttached(ILogger logger, long connection, string export, long size, NbdTransmissionFlags flags);

    [LoggerMessage(6, LogLevel.Warning, "NBD connection {Connection} closed: {Reason}")]
    public static partial void ProtocolViolation(ILogger logger, long connection, string reason);

    [LoggerMessage(7, LogLevel.Debug, "NBD connection {Connection}: {Command} at {Offset}+{Length} failed with {Error}")]
    public static partial void RequestFailed(ILogger logger, long connection, NbdCommand command, ulong offset, uint length, NbdError error, Exception? exception);

    [LoggerMessage(8, LogLevel.Warning, "NBD connection on {Endpoint} refused: {Count} connections already open there")]
    public static partial void TooManyConnections(ILogger logger, NbdEndpoint endpoint, int count);

    [LoggerMessage(9, LogLevel.Warning, "NBD accept on {Endpoint} failed")]
    public static partial void AcceptFailed(ILogger logger, NbdEndpoint endpoint, Exception exception);

    [LoggerMessage(10, LogLevel.Debug, "NBD connection {Connection} ended by the client")]
    public static partial void ClientHungUp(ILogger logger, long connection);

    [LoggerMessage(11, LogLevel.Error, "NBD connection {Connection} failed")]
    public static partial void ConnectionFailed(ILogger logger, long connection, Exception exception);

    [LoggerMessage(12, LogLevel.Information, "NBD connection {Connection} closed: idle for {IdleTimeout} with no request in flight")]
    public static partial void IdleClosed(ILogger logger, long connection, TimeSpan idleTimeout);
}
