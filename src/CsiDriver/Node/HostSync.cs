using System.Runtime.InteropServices;

namespace CsiDriver.Node;

/// <summary>sync(2): writes every dirty page of every file system and block device back.</summary>
public static partial class HostSync
{
    /// <summary>Runs sync on a worker thread, waiting at most <paramref name="timeout"/>: a
    /// device that cannot be written must not hold up a shutdown forever.</summary>
    public static async Task<bool> SyncAsync(TimeSpan timeout)
    {
        var work = Task.Run(sync);
        return await Task.WhenAny(work, Task.Delay(timeout)) == work;
    }

    [LibraryImport("libc")]
    private static partial void sync();
}
