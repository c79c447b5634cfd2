namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>
/// A temporary directory holding one driver's socket and data directory. It outlives a driver
/// process so a restart can find the same state. Kept under /tmp with a short name because a
/// unix socket path must fit in sun_path (108 bytes with its terminating NUL).
/// </summary>
public sealed class DriverWorkspace : IDisposable
{
    private const int MaxSocketPathBytes = 107;

    private DriverWorkspace(string root)
    {
        Root = root;
        SocketPath = Path.Combine(root, "csi.sock");
        CsiAddonsSocketPath = Path.Combine(root, "addons.sock");
        HolderSocketPath = Path.Combine(root, "holder", "sessions.sock");
        DataDirectory = Path.Combine(root, "data");
        KubeletDirectory = Directory.CreateDirectory(Path.Combine(root, "kubelet")).FullName;
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(CsiAddonsSocketPath) <= MaxSocketPathBytes, $"socket path too long: {CsiAddonsSocketPath}");
    }

    public string Root { get; }

    public string SocketPath { get; }

    public string CsiAddonsSocketPath { get; }

    /// <summary>Where a test's session holder listens (see <see cref="SessionHolderProcess"/>).</summary>
    public string HolderSocketPath { get; }

    public string DataDirectory { get; }

    /// <summary>Stands in for /var/lib/kubelet: staging and target paths go under it.</summary>
    public string KubeletDirectory { get; }

    public static DriverWorkspace Create() => new(Directory.CreateTempSubdirectory("fcsi-").FullName);

    /// <summary>Fails when anything is still mounted or attached under the workspace: a test (or
    /// the driver) leaked it, and on a node it would be a leaked mount or loop device. The tree
    /// is then left as it is, since deleting through a mount would delete inside the mounted
    /// file system.</summary>
    public void Dispose()
    {
        var left = HostInspection.MountsUnder(Root).Concat(HostInspection.LoopDevicesUnder(Root)).ToList();
        Assert.True(left.Count == 0, $"left behind under {Root}: {string.Join(", ", left)}");
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A driver killed after a failed test may still be closing files; the temp
            // directory is then left for the system's cleaner rather than failing the run.
        }
    }
}
