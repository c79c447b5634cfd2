namespace CsiDriver.Demo;

/// <summary>Whether this machine lets the driver's node path mount volumes: root, FUSE, loop
/// devices and the tool the node service runs to make the shop's file systems (mkfs.ext4).</summary>
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
        if (!File.Exists("/dev/loop-control"))
        {
            return "/dev/loop-control is missing (no loop devices)";
        }
        foreach (var tool in new[] { "mkfs.ext4", "blkid" })
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
