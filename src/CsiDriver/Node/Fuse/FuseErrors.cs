using CsiDriver.Engine;
using CsiDriver.Native;

namespace CsiDriver.Node.Fuse;

/// <summary>The one place where failures of the engine become errno values in FUSE replies;
/// the loop device hands them on to the file system above it as I/O errors.</summary>
public static class FuseErrors
{
    private const int Edquot = 122;

    public static int FromException(Exception exception) => exception switch
    {
        ReadOnlyVolumeException or UnauthorizedAccessException => Errno.EROFS,
        InsufficientSpaceException => Errno.ENOSPC,
        OutOfRangeException or ArgumentException => Errno.EINVAL,
        // .NET puts errno in HResult of the IOException a full or over-quota file system raises.
        IOException { HResult: Errno.ENOSPC or Errno.EFBIG or Edquot } => Errno.ENOSPC,
        // A volume deleted under its attachment, corrupt data, any other failure.
        _ => Errno.EIO,
    };
}
