namespace CsiDriver.Rpc.Protocol;

/// <summary>
/// Names and values of the gRPC-over-HTTP/2 protocol (grpc/grpc doc/PROTOCOL-HTTP2.md), in one place.
/// </summary>
internal static class GrpcProtocol
{
    public const string ContentType = "application/grpc";

    /// <summary>Content types we accept: "application/grpc" and "application/grpc+proto".</summary>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var rest = contentType.AsSpan(ContentType.Length);
        return rest.IsEmpty || rest[0] == ';' || rest.StartsWith("+proto", StringComparison.OrdinalIgnoreCase);
    }

    public const string StatusTrailer = "grpc-status";
    public const string MessageTrailer = "grpc-message";
    public const string TimeoutHeader = "grpc-timeout";
    public const string EncodingHeader = "grpc-encoding";
    public const string AcceptEncodingHeader = "grpc-accept-encoding";
    public const string TeHeader = "te";
    public const string TeTrailers = "trailers";

    /// <summary>The only message encoding we speak; compressed frames are refused.</summary>
    public const string IdentityEncoding = "identity";

    /// <summary>Metadata keys ending with this carry base64 of arbitrary bytes.</summary>
    public const string BinaryHeaderSuffix = "-bin";

    /// <summary>gRPC's default limit on a received message.</summary>
    public const int DefaultMaxReceiveMessageSize = 4 * 1024 * 1024;

    /// <summary>The HTTP/2 path of a method: "/package.Service/Method".</summary>
    public static string PathOf(Google.Protobuf.Reflection.MethodDescriptor method) => $"/{method.Service.FullName}/{method.Name}";

    /// <summary>Headers that belong to the transport, not to the caller's metadata.</summary>
    public static bool IsReservedHeader(string name) =>
        name.StartsWith(':')
        || name is "content-type" or "te" or "host" or "content-length" or "connection" or "user-agent"
            or TimeoutHeader or EncodingHeader or AcceptEncodingHeader or StatusTrailer or MessageTrailer;
}
