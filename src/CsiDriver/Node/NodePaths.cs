using CsiDriver.Rpc;

namespace CsiDriver.Node;

/// <summary>
/// Keeps staging and target paths where kubelet puts them: absolute, already normal (no "."
/// or ".." segments), under the kubelet directory, and reached without crossing a symbolic
/// link — so a planted link cannot make the driver mount or unmount outside it.
/// </summary>
public sealed class NodePaths
{
    private readonly string _root;
    private readonly string _realRoot;

    public NodePaths(string kubeletDirectory)
    {
        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(kubeletDirectory));
        _realRoot = Directory.Exists(_root) ? RealPath(_root) : _root;
    }

    public string Require(string path, string field)
    {
        if (string.IsNullOrEmpty(path))
        {
            throw Invalid($"{field} is required");
        }
        if (!Path.IsPathRooted(path) || path.Split('/').Any(segment => segment is "." or ".."))
        {
            throw Invalid($"{field} '{path}' must be an absolute path without '.' or '..' segments");
        }
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        string root;
        if (IsUnder(full, _root))
        {
            root = _root;
        }
        else if (IsUnder(full, _realRoot))
        {
            root = _realRoot;
        }
        else
        {
            throw Invalid($"{field} '{path}' is outside the kubelet directory {_root}");
        }
        // Every existing component below the root must be a real directory or file, not a link.
        var current = root;
        foreach (var segment in full[root.Length..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, segment);
            var info = new FileInfo(current);
            if (!info.Exists && !Directory.Exists(current))
            {
                break;
            }
            if (info.LinkTarget is not null)
            {
                throw Invalid($"{field} '{path}' passes through the symbolic link {current}");
            }
        }
        return full;
    }

    /// <summary>An absolute path in the form <see cref="Require"/> returns (no trailing separator, no
    /// "." or ".." segments resolved away); any other path unchanged, so it matches no record.</summary>
    public static string Normal(string path) =>
        Path.IsPathRooted(path) && !path.Split('/').Any(segment => segment is "." or "..")
            ? Path.TrimEndingDirectorySeparator(Path.GetFullPath(path))
            : path;

    private static bool IsUnder(string path, string root) =>
        path.StartsWith(root + "/", StringComparison.Ordinal) || (root == "/" && path.StartsWith('/'));

    private static string RealPath(string path)
    {
        var resolved = new DirectoryInfo(path).ResolveLinkTarget(returnFinalTarget: true);
        return resolved is null ? path : Path.TrimEndingDirectorySeparator(resolved.FullName);
    }

    private static RpcException Invalid(string message) => new(StatusCode.InvalidArgument, message);
}
