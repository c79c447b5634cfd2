namespace CsiDriver.Tests.Deploy;

/// <summary>The pod fields an env var can take from the downward API (<c>fieldRef</c>) that
/// deploy/ may use, each with a value of the right shape, to read args as the kubelet expands them.</summary>
public static class PodFields
{
    public static readonly IReadOnlyDictionary<string, string> Samples = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["metadata.name"] = "formation-controller-7c9d8f6b5-x2k4q",
        ["metadata.namespace"] = "kube-system",
        ["metadata.uid"] = "0b6f3c1e-5a2d-4c47-9e1f-3d2b8a7c6e51",
        ["spec.nodeName"] = "node-a",
        ["spec.serviceAccountName"] = "formation-controller",
        ["status.hostIP"] = "10.0.0.7",
        ["status.podIP"] = "10.244.1.9",
    };

    /// <summary>The field a container's env var <paramref name="name"/> holds, or null when it is
    /// not defined there or not from a field.</summary>
    public static string? Of(Container container, string name) =>
        container.Env.LastOrDefault(e => e.Name == name)?.ValueFrom?.FieldRef?.FieldPath;

    /// <summary>The container's args as the kubelet would expand them, with sample field values;
    /// a variable the container does not define is left as it is.</summary>
    public static List<string> ExpandedArgs(Container container) =>
        container.Args.Select(arg => ContainerArgs.Expand(arg, name =>
            Of(container, name) is { } field && Samples.TryGetValue(field, out var sample) ? sample
            : container.Env.LastOrDefault(e => e.Name == name)?.Value ?? $"$({name})")).ToList();
}
