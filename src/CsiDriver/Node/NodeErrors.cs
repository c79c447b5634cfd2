using System.Runtime.InteropServices;
using CsiDriver.Csi;
using CsiDriver.Rpc;

namespace CsiDriver.Node;

/// <summary>
/// Node calls fail in the host as well as in the engine: a tool that exits non-zero, a mount
/// the kernel refuses, a helper that does not start in time. Those become INTERNAL with what
/// the host said (our messages name the step and the system's reason). What .NET's file APIs
/// throw carries .NET's sentences instead; those get a code that fits and our own words. The
/// node's expected cases (a target of the wrong kind, a missing parent) are checked where they
/// happen and never get here.
/// </summary>
public static class NodeErrors
{
    public static RpcException? Translate(Exception exception) =>
        EngineErrors.Translate(exception)
        ?? exception switch
        {
            UnauthorizedAccessException => new RpcException(StatusCode.FailedPrecondition, $"the node may not use a path it needs: {Reason(exception)}"),
            FileNotFoundException { FileName: { } file } => new RpcException(StatusCode.NotFound, $"{file} does not exist"),
            DirectoryNotFoundException or FileNotFoundException => new RpcException(StatusCode.NotFound, $"a path the node needs does not exist: {Reason(exception)}"),
            IOException when IsSystemError(exception) => new RpcException(StatusCode.Internal, $"the node's file system refused an operation: {Reason(exception)}"),
            ExternalCommandException or IOException or TimeoutException => new RpcException(StatusCode.Internal, exception.Message),
            _ => null,
        };

    /// <summary>Why a file operation failed, in the system's words (strerror) rather than .NET's
    /// sentence around them.</summary>
    public static string Reason(Exception exception) => exception switch
    {
        UnauthorizedAccessException => "permission denied",
        DirectoryNotFoundException => "a directory on its path does not exist",
        FileNotFoundException => "it does not exist",
        PathTooLongException => "the path is too long",
        IOException when IsSystemError(exception) => Marshal.GetPInvokeErrorMessage(exception.HResult),
        _ => exception.Message,
    };

    /// <summary>.NET's file APIs on Linux put the errno in HResult; an IOException we throw
    /// ourselves keeps the default (negative) HResult and carries our own words.</summary>
    private static bool IsSystemError(Exception exception) => exception.HResult is > 0 and < 4096;
}
