using System.Globalization;

namespace CsiDriver.Benchmarks;

/// <summary>Bytes written so far by the block device holding a directory, from /proc/diskstats;
/// differences of two readings give what a phase cost the disk itself, page-cache writeback
/// included, which a figure seen by the writer does not show.</summary>
public sealed class DiskWrites
{
    /// <summary>diskstats counts sectors of 512 bytes, whatever the device's own sector size.</summary>
    private const long SectorBytes = 512;

    private DiskWrites(string device) => Device = device;

    /// <summary>The device's name as /proc/diskstats lists it (vda, nvme0n1p2).</summary>
    public string Device { get; }

    /// <summary>The device of the file system <paramref name="directory"/> is on: the longest
    /// mount point above it in /proc/self/mountinfo, whose major:minor /sys/dev/block names.</summary>
    /// <exception cref="InvalidOperationException">It is on no block device (tmpfs, say): the
    /// disk's figures then mean nothing.</exception>
    public static DiskWrites Holding(string directory)
    {
        var path = Path.GetFullPath(directory);
        var mount = File.ReadLines("/proc/self/mountinfo")
            .Select(line => line.Split(' '))
            .Select(fields => (Number: fields[2], Point: fields[4].Replace("\\040", " ", StringComparison.Ordinal)))
            .Where(m => m.Point == "/" || path == m.Point || path.StartsWith(m.Point + "/", StringComparison.Ordinal))
            .MaxBy(m => m.Point.Length);
        var device = new DirectoryInfo($"/sys/dev/block/{mount.Number}");
        if (!device.Exists)
        {
            throw new InvalidOperationException($"{directory} is on no block device (device {mount.Number} at {mount.Point})");
        }
        return new DiskWrites(Path.GetFileName(device.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? device.FullName));
    }

    public long Bytes()
    {
        // Fields: major, minor, name, then reads (4 fields), then writes completed, merged, sectors written.
        var fields = File.ReadLines("/proc/diskstats")
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .First(f => f[2] == Device);
        return long.Parse(fields[9], CultureInfo.InvariantCulture) * SectorBytes;
    }
}
