using Csi.V1;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>The node-side steps kubelet takes, with the paths it would use (under the
/// workspace's stand-in kubelet directory).</summary>
public static class NodeSteps
{
    private static readonly TimeSpan SyncTimeout = TimeSpan.FromSeconds(60);

    public static string StagingPath(DriverWorkspace workspace, string volumeId) =>
        Path.Combine(workspace.KubeletDirectory, "plugins", "kubernetes.io", "csi", "formation.csi.dev", volumeId, "globalmount");

    public static string TargetPath(DriverWorkspace workspace, string volumeId, string pod = "pod-a") =>
        Path.Combine(workspace.KubeletDirectory, "pods", pod, "volumes", "kubernetes.io~csi", volumeId, "mount");

    /// <summary>Stages as kubelet does: it creates the staging directory first.</summary>
    public static Task<NodeStageVolumeResponse> StageAsync(this CsiClient csi, DriverWorkspace workspace, string volumeId, VolumeCapability capability)
    {
        Directory.CreateDirectory(StagingPath(workspace, volumeId));
        return csi.NodeStageVolume(new NodeStageVolumeRequest
        {
            VolumeId = volumeId,
            StagingTargetPath = StagingPath(workspace, volumeId),
            VolumeCapability = capability,
        });
    }

    /// <summary>Publishes as kubelet does: it creates the target's parent directory.</summary>
    public static Task<NodePublishVolumeResponse> PublishOnNodeAsync(this CsiClient csi, DriverWorkspace workspace, string volumeId, VolumeCapability capability, bool readOnly = false, string pod = "pod-a")
    {
        Directory.CreateDirectory(Path.GetDirectoryName(TargetPath(workspace, volumeId, pod))!);
        return csi.NodePublishVolume(new NodePublishVolumeRequest
        {
            VolumeId = volumeId,
            StagingTargetPath = StagingPath(workspace, volumeId),
            TargetPath = TargetPath(workspace, volumeId, pod),
            VolumeCapability = capability,
            Readonly = readOnly,
        });
    }

    public static Task<NodeUnpublishVolumeResponse> UnpublishOnNodeAsync(this CsiClient csi, DriverWorkspace workspace, string volumeId, string pod = "pod-a") =>
        csi.NodeUnpublishVolume(new NodeUnpublishVolumeRequest { VolumeId = volumeId, TargetPath = TargetPath(workspace, volumeId, pod) });

    public static Task<NodeUnstageVolumeResponse> UnstageAsync(this CsiClient csi, DriverWorkspace workspace, string volumeId) =>
        csi.NodeUnstageVolume(new NodeUnstageVolumeRequest { VolumeId = volumeId, StagingTargetPath = StagingPath(workspace, volumeId) });

    /// <summary>Undo for finally blocks, so a failed test leaves no mount behind: unpublishes from
    /// every pod, then unstages, each step tried whatever the one before did. NOT_FOUND (the volume
    /// is gone) counts as undone; any other error fails the test with the RPC's status and message
    /// once every step was tried, so a leak (an unmount refused or busy) is never hidden. In a
    /// finally block that failure takes the place of the test's own, if it had one.</summary>
    public static async Task CleanUpAsync(this CsiClient csi, DriverWorkspace workspace, string volumeId, params string[] pods)
    {
        var failures = new List<string>();
        foreach (var pod in pods.Length == 0 ? ["pod-a"] : pods)
        {
            await Undo(failures, $"unpublish from {pod}", () => csi.UnpublishOnNodeAsync(workspace, volumeId, pod));
        }
        await Undo(failures, "unstage", () => csi.UnstageAsync(workspace, volumeId));
        if (failures.Count > 0)
        {
            Assert.Fail($"cleaning up volume '{volumeId}' failed: {string.Join("; ", failures)}");
        }
    }

    /// <summary>What /proc/self/mountinfo says is mounted at <paramref name="path"/>.</summary>
    public static bool IsMounted(string path) =>
        File.ReadLines("/proc/self/mountinfo").Any(line => line.Split(' ')[4] == path);

    /// <summary>Writes a mounted file system's dirty pages and journal to its device (`sync -f`,
    /// i.e. syncfs), as an application quiesces before a snapshot: a crash-consistent cut holds only
    /// what has reached the device.</summary>
    public static Task SyncFileSystemAsync(string mountPath) => HostCommand.RunAsync(SyncTimeout, "sync", "-f", mountPath);

    /// <summary>The device whose file system is mounted at <paramref name="path"/> (for a bind
    /// mount, its source's), from /proc/self/mountinfo.</summary>
    public static string DeviceMountedAt(string path)
    {
        var fields = File.ReadLines("/proc/self/mountinfo").Select(line => line.Split(' ')).Last(f => f[4] == path);
        return fields[Array.IndexOf(fields, "-") + 2];
    }

    /// <summary>The device node bind-mounted at <paramref name="path"/> (a published block volume):
    /// mountinfo gives its path within /dev as the mount's root.</summary>
    public static string DeviceBoundAt(string path) =>
        "/dev" + File.ReadLines("/proc/self/mountinfo").Select(line => line.Split(' ')).Last(f => f[4] == path)[3];

    /// <summary>Size of a block device in bytes, from sysfs (512-byte sectors).</summary>
    public static long DeviceSize(string device) =>
        long.Parse(File.ReadAllText($"/sys/class/block/{Path.GetFileName(device)}/size").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 512;

    /// <summary>Whether this process (and so csidriver, started by it) has CAP_SYS_RESOURCE, which
    /// the kernel wants for growing a mounted ext4.</summary>
    public static bool HasCapSysResource()
    {
        var effective = File.ReadLines("/proc/self/status").First(l => l.StartsWith("CapEff:", StringComparison.Ordinal))["CapEff:".Length..].Trim();
        return (ulong.Parse(effective, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) & (1UL << 24)) != 0;
    }

    public static void RequireKernelPath()
    {
        Assert.True(File.Exists("/dev/fuse"), "/dev/fuse is missing: the node's data path needs FUSE");
        Assert.True(File.Exists("/dev/loop-control"), "/dev/loop-control is missing: the node's data path needs loop devices");
    }

    private static async Task Undo(List<string> failures, string step, Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (CsiDriver.Rpc.RpcException e) when (e.Status != CsiDriver.Rpc.StatusCode.NotFound)
        {
            failures.Add($"{step}: {e.Status}: {e.Message}");
        }
        catch (CsiDriver.Rpc.RpcException)
        {
            // Already gone.
        }
    }
}
