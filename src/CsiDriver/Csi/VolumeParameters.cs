using CsiDriver.Rpc;

namespace CsiDriver.Csi;

/// <summary>
/// The StorageClass parameters (CreateVolume) and VolumeAttributesClass parameters
/// (ControllerModifyVolume) Formation understands. Anything else is refused, so that a typo in
/// a class is an error at provisioning rather than a silently ignored setting.
/// </summary>
public static class VolumeParameters
{
    /// <summary>Keys under this prefix are set by the Kubernetes sidecars themselves (PVC and PV
    /// names with --extra-create-metadata); they are informational.</summary>
    public const string KubernetesPrefix = "csi.storage.k8s.io/";

    /// <summary>Places the volume in a named consistency group: one journal, one order for all
    /// its volumes. Empty or absent: the volume is a group of its own. Mutable: changing it
    /// moves the volume, keeping its order (the engine writes a barrier record).</summary>
    public const string ConsistencyGroup = "consistencyGroup";

    public static readonly IReadOnlyList<string> Create = [ConsistencyGroup];

    public static readonly IReadOnlyList<string> Mutable = [ConsistencyGroup];

    /// <summary>The group a request names (mutable parameters win), validated; null for none.</summary>
    public static string? GroupOf(IReadOnlyDictionary<string, string> parameters, IReadOnlyDictionary<string, string>? mutableParameters = null)
    {
        var name = mutableParameters?.GetValueOrDefault(ConsistencyGroup) ?? parameters.GetValueOrDefault(ConsistencyGroup);
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }
        if (!Engine.VolumeIds.IsValid(name))
        {
            throw new RpcException(StatusCode.InvalidArgument,
                $"{ConsistencyGroup} '{name}' must be 1-{Engine.VolumeIds.MaxLength} letters, digits, '-', '_' or '.', not starting with '.'");
        }
        return name;
    }

    /// <summary>The keys of <paramref name="parameters"/> that are neither known nor set by Kubernetes.</summary>
    public static List<string> Unknown(IEnumerable<string> parameters, IReadOnlyList<string> known) =>
        parameters
            .Where(k => !known.Contains(k) && !k.StartsWith(KubernetesPrefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();

    public static void RequireKnown(IReadOnlyDictionary<string, string> parameters, IReadOnlyList<string> known, string field)
    {
        var unknown = Unknown(parameters.Keys, known);
        if (unknown.Count > 0)
        {
            var accepted = known.Count == 0 ? "none" : string.Join(", ", known);
            throw new RpcException(StatusCode.InvalidArgument,
                $"{field}: unknown parameter(s) {string.Join(", ", unknown)} (accepted: {accepted})");
        }
    }
}
