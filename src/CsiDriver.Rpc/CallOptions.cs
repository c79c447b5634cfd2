namespace CsiDriver.Rpc;

/// <summary>Per-call settings of a <see cref="GrpcClient"/> call.</summary>
public sealed class CallOptions
{
    /// <summary>Metadata to send; a key ending in "-bin" must carry a base64 value.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>Sent as grpc-timeout; when it passes, the call fails with DEADLINE_EXCEEDED.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Cancelling it resets the call; the call fails with CANCELLED.</summary>
    public CancellationToken CancellationToken { get; init; }
}
