namespace CsiDriver.Node;

/// <summary>Creating, recognising and growing the file systems Formation offers, with the
/// standard tools (blkid, mkfs.ext4, mkfs.xfs, e2fsck, resize2fs, xfs_growfs).</summary>
public static class FileSystems
{
    /// <summary>The file system type on <paramref name="device"/>, or null when it holds none.</summary>
    public static async Task<string?> DetectAsync(string device, CancellationToken cancellationToken)
    {
        // blkid exits 2 when it finds no signature: a blank device.
        var result = await ExternalCommand.TryRunAsync("blkid", ["-p", "-o", "value", "-s", "TYPE", device], cancellationToken);
        return result.ExitCode switch
        {
            0 => result.Stdout.Trim(),
            2 => null,
            _ => throw new ExternalCommandException($"blkid {device}", result.ExitCode, result.Stderr),
        };
    }

    public static Task FormatAsync(string device, string fsType, CancellationToken cancellationToken) => fsType switch
    {
        "ext4" => ExternalCommand.RunAsync("mkfs.ext4", ["-q", "-F", device], cancellationToken),
        "xfs" => ExternalCommand.RunAsync("mkfs.xfs", ["-q", "-f", device], cancellationToken),
        _ => throw new ArgumentException($"file system {fsType} is not supported", nameof(fsType)),
    };

    /// <summary>Grows an unmounted ext4 file system to fill its device. (xfs grows only while
    /// mounted: see <see cref="GrowMountedAsync"/>.)</summary>
    public static async Task GrowUnmountedAsync(string device, string fsType, CancellationToken cancellationToken)
    {
        if (fsType != "ext4")
        {
            return;
        }
        // resize2fs insists on a freshly checked file system; e2fsck exits 1 when it fixed something.
        var check = await ExternalCommand.TryRunAsync("e2fsck", ["-f", "-p", device], cancellationToken);
        if (check.ExitCode > 1)
        {
            throw new ExternalCommandException($"e2fsck -f -p {device}", check.ExitCode, check.Stderr + check.Stdout);
        }
        await ExternalCommand.RunAsync("resize2fs", [device], cancellationToken);
    }

    /// <summary>Grows a mounted file system; the kernel may refuse (EPERM without CAP_SYS_RESOURCE).</summary>
    public static Task GrowMountedAsync(string device, string mountPoint, string fsType, CancellationToken cancellationToken) => fsType switch
    {
        "ext4" => ExternalCommand.RunAsync("resize2fs", [device], cancellationToken),
        "xfs" => ExternalCommand.RunAsync("xfs_growfs", [mountPoint], cancellationToken),
        _ => throw new ArgumentException($"file system {fsType} is not supported", nameof(fsType)),
    };
}
