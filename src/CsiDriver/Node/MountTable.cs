using System.Globalization;
using System.Text;

namespace CsiDriver.Node;

/// <summary>One line of /proc/self/mountinfo. <paramref name="Device"/> is the file system's
/// device number as "major:minor": a bind mount shows its source's, so two mounts of one file
/// system share it.</summary>
public sealed record MountEntry(int Id, string Device, string Root, string MountPoint, string Options, string FsType, string Source);

/// <summary>
/// The kernel's view of what is mounted where (/proc/self/mountinfo), so that the node only
/// unmounts what it finds mounted and can tell a healthy staging from a lost one.
/// </summary>
public static class MountTable
{
    public static IReadOnlyList<MountEntry> Read(string path = "/proc/self/mountinfo") =>
        File.ReadLines(path).Select(Parse).ToList();

    /// <summary>The topmost mount at <paramref name="mountPoint"/>, or null.</summary>
    public static MountEntry? Find(string mountPoint) =>
        Read().LastOrDefault(m => m.MountPoint == mountPoint.TrimEnd('/'));

    public static bool IsMountPoint(string path) => Find(path) is not null;

    /// <summary>Every mount at <paramref name="path"/> or below it, bottom first (mountinfo
    /// lists a mount after the one it is stacked on).</summary>
    public static IReadOnlyList<MountEntry> At(string path)
    {
        var mountPoint = path.TrimEnd('/');
        return Read().Where(m => m.MountPoint == mountPoint || m.MountPoint.StartsWith(mountPoint + "/", StringComparison.Ordinal)).ToList();
    }

    /// <summary>How a mount is named in a message: "tmpfs from none (mount 123) at /x".</summary>
    public static string Describe(MountEntry mount) =>
        $"{mount.FsType} from {mount.Source} (mount {mount.Id}) at {mount.MountPoint}";

    /// <summary>Fields: id parent major:minor root mount-point options [optional…] - fstype source super-options.</summary>
    public static MountEntry Parse(string line)
    {
        var fields = line.Split(' ');
        var separator = Array.IndexOf(fields, "-", 6);
        if (fields.Length < 10 || separator < 0 || separator + 2 >= fields.Length)
        {
            throw new FormatException($"unexpected mountinfo line: {line}");
        }
        return new MountEntry(
            int.Parse(fields[0], CultureInfo.InvariantCulture),
            fields[2],
            Unescape(fields[3]),
            Unescape(fields[4]),
            fields[5],
            fields[separator + 1],
            Unescape(fields[separator + 2]));
    }

    /// <summary>mountinfo writes space, tab, newline and backslash as three-digit octal escapes.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\'))
        {
            return field;
        }
        var builder = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length
                && field.Substring(i + 1, 3).All(c => c is >= '0' and <= '7'))
            {
                builder.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                builder.Append(field[i]);
            }
        }
        return builder.ToString();
    }
}
