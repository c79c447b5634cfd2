using CsiDriver.Rpc;

namespace CsiDriver.Csi;

/// <summary>Checks every CSI and csi-addons service makes on request fields before acting.</summary>
public static class RequestFields
{
    /// <summary>A REQUIRED string field that is empty is INVALID_ARGUMENT.</summary>
    public static void Require(string value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw new RpcException(StatusCode.InvalidArgument, $"{field} is required");
        }
    }

    /// <summary>The CSI spec's rule for the names a CO gives volumes and snapshots: present, and
    /// free of C0 controls other than tab, line feed and carriage return, of DEL and of the C1
    /// controls.</summary>
    public static void RequireName(string name, string field)
    {
        Require(name, field);
        if (name.Where(IsForbiddenInName).Select(c => (int?)c).FirstOrDefault() is { } forbidden)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"{field} contains the control character U+{forbidden:X4}, which the CSI spec forbids");
        }
    }

    /// <summary>Whether a repeated request's map equals the one the existing object was made with.</summary>
    public static bool SameEntries(IReadOnlyDictionary<string, string> had, IReadOnlyDictionary<string, string> asked) =>
        had.Count == asked.Count && asked.All(p => had.TryGetValue(p.Key, out var v) && v == p.Value);

    private static bool IsForbiddenInName(char c) =>
        c is <= '\u0008' or '\u000B' or '\u000C' or (>= '\u000E' and <= '\u001F') or (>= '\u007F' and <= '\u009F');
}
