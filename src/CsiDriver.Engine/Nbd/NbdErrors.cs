using System.Net.Sockets;

namespace CsiDriver.Engine.Nbd;

/// <summary>The one place where failures of the engine become NBD error values.</summary>
internal static class NbdErrors
{
    public static NbdError FromException(Exception exception) => exception switch
    {
        ReadOnlyVolumeException or UnauthorizedAccessException => NbdError.NotPermitted,
        InsufficientSpaceException => NbdError.NoSpace,
        OutOfRangeException or ArgumentException => NbdError.InvalidArgument,
        OperationCanceledException or ObjectDisposedException => NbdError.Shutdown,
        _ when Native.IsDiskFull(exception) => NbdError.NoSpace,
        // A volume deleted under an open export, corrupt data, any other I/O failure: the client
        // can only report an I/O error.
        _ => NbdError.IoError,
    };

    /// <summary>True when the exception means the client's socket is gone (not a request failure).</summary>
    public static bool IsDisconnect(Exception exception) =>
        exception is EndOfStreamException or SocketException or ObjectDisposedException or OperationCanceledException
        || exception is IOException { InnerException: SocketException };
}
