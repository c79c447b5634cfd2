using Google.Protobuf;

namespace CsiDriver.Rpc;

/// <summary>
/// One finished call, handed to <see cref="GrpcServerOptions.OnCallCompleted"/>.
/// <see cref="Request"/> is the request message of a unary or server-streaming call (null for
/// calls that stream requests, or when the request could not be read); it may hold secrets, so the
/// observer decides what to log of it.
/// </summary>
public sealed record CallCompletion(string Method, StatusCode Status, string? StatusMessage, TimeSpan Duration, IMessage? Request);
