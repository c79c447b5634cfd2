using CsiDriver.Rpc;

namespace CsiDriver.Csi;

/// <summary>The CSI spec's rule for the names a CO gives volumes and snapshots: present, and
/// free of C0 controls other than tab, line feed and carriage return, of DEL and of the C1
/// controls.</summary>
public static class CsiNames
{
    public static void Require(string name, string field)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new RpcException(StatusCode.InvalidArgument, $"{field} is required");
        }
        if (name.Where(IsForbidden).Select(c => (int?)c).FirstOrDefault() is { } forbidden)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"{field} contains the control character U+{forbidden:X4}, which the CSI spec forbids");
        }
    }

    private static bool IsForbidden(char c) =>
        c is <= '\u0008' or '\u000B' or '\u000C' or (>= '\u000E' and <= '\u001F') or (>= '\u007F' and <= '\u009F');
}
