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

    public static readonly IReadOnlyList<string> Create = [];

    public static readonly IReadOnlyList<string> Mutable = [];

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
