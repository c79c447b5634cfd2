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

    /// <summary>Whether a repeated request's map equals the one the existing object was made with.</summary>
    public static bool SameEntries(IReadOnlyDictionary<string, string> had, IReadOnlyDictionary<string, string> asked) =>
        had.Count == asked.Count && asked.All(p => had.TryGetValue(p.Key, out var v) && v == p.Value);
}
