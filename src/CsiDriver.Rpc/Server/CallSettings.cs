using Microsoft.Extensions.Logging;

namespace CsiDriver.Rpc.Server;

/// <summary>The server-wide settings every call handler needs.</summary>
internal sealed record CallSettings(
    int MaxReceiveMessageSize, TimeProvider TimeProvider, Action<CallCompletion>? OnCallCompleted, ILogger Logger);
