using System.Text;

namespace CsiDriver.Demo;

/// <summary>
/// Where one demo site keeps its things: data directory, stand-in kubelet directory, log, and
/// its sockets. A unix socket path must fit in sun_path (107 bytes), so when the output
/// directory is deep the sockets go to a short directory under /tmp instead.
/// </summary>
public sealed record SiteLayout(string Name, string Root, string SocketDirectory)
{
    private const int MaxSocketPathBytes = 107;

    public string DataDirectory => Path.Combine(Root, "data");

    /// <summary>Stands in for /var/lib/kubelet: staging and target paths go under it.</summary>
    public string KubeletDirectory => Path.Combine(Root, "kubelet");

    public string LogFile => Path.Combine(Root, "csidriver.log");

    public string CsiSocket => Path.Combine(SocketDirectory, "csi.sock");

    public string AddonsSocket => Path.Combine(SocketDirectory, "addons.sock");

    /// <summary>The engine's NBD socket (the driver's default place for it).</summary>
    public string NbdSocket => Path.Combine(DataDirectory, "nbd.sock");

    public static SiteLayout Create(string outputDirectory, string name)
    {
        var root = Directory.CreateDirectory(Path.Combine(outputDirectory, name)).FullName;
        var sockets = Encoding.UTF8.GetByteCount(Path.Combine(root, "data", "nbd.sock")) <= MaxSocketPathBytes
            ? root
            : Directory.CreateTempSubdirectory($"fdemo-{name}-").FullName;
        var layout = new SiteLayout(name, root, sockets);
        Directory.CreateDirectory(layout.DataDirectory);
        Directory.CreateDirectory(layout.KubeletDirectory);
        return layout;
    }

    /// <summary>Staging path kubelet would use for a volume.</summary>
    public string StagingPath(string volumeId) =>
        Path.Combine(KubeletDirectory, "plugins", "kubernetes.io", "csi", "formation.csi.dev", volumeId, "globalmount");

    /// <summary>Target path kubelet would use for a volume in a pod.</summary>
    public string TargetPath(string volumeId, string pod) =>
        Path.Combine(KubeletDirectory, "pods", pod, "volumes", "kubernetes.io~csi", volumeId, "mount");
}
