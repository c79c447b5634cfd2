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

    public void Dispose()
    {
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
