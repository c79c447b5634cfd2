using CsiDriver.Csi;
using CsiDriver.Rpc;

namespace CsiDriver.Node;

/// <summary>
/// Node calls fail in the host as well as in the engine: a tool that exits non-zero, a mount
/// the kernel refuses, a helper that does not start in time. Those become INTERNAL with what
/// the host said, so the operator sees the cause in the CO's events rather than a bare
/// "handler failed".
/// </summary>
public static class NodeErrors
{
    public static RpcException? Translate(Exception exception) =>
        EngineErrors.Translate(exception)
        ?? (exception is ExternalCommandException or IOException or TimeoutException or UnauthorizedAccessException
            ? new RpcException(StatusCode.Internal, exception.Message)
            : null);
}
