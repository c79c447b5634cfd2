namespace CsiDriver.Demo;

/// <summary>Whether this machine lets the driver's node path mount volumes: root, FUSE and the
/// tools the node service runs (nbdfuse, losetup, mkfs.ext4).</summary>
public static class NodePath
{
    public static string? Problem()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            return "not running as root";
        }
        if (!File.Exists("/dev/fuse"))
        {
            return "/dev/fuse is missing";
        }
        foreach (var tool in new[] { "nbdfuse", "losetup", "mkfs.ext4", "fusermount3" })
        {
            if (!OnPath(tool))
            {
                return $"{tool} is not installed (make test-deps)";
            }
        }
        return null;
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin:/usr/sbin:/sbin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin").Append("/sbin")
            .Any(directory => File.Exists(Path.Combine(directory, tool)));
}
