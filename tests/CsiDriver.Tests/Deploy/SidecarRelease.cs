using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace CsiDriver.Tests.Deploy;

/// <summary>
/// What one upstream sidecar release offers and needs, as read in its repository at the tag
/// deploy/ pins (each file in Deploy/Sidecars/ says where): its flags, its feature gates with
/// their defaults, the environment a flag makes it read, and the API rules its upstream RBAC
/// file grants. Adding a sidecar to deploy/ is adding its file there.
/// </summary>
public sealed class SidecarRelease
{
    private static readonly IDeserializer Strict = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .Build();

    private static readonly Lazy<IReadOnlyList<SidecarRelease>> Catalog = new(() =>
        Directory.EnumerateFiles(Path.Combine(RepositoryPaths.DeployTestData, "Sidecars"), "*.yaml")
            .Order(StringComparer.Ordinal)
            .Select(Load)
            .ToList());

    /// <summary>The image, pinned: repository and tag.</summary>
    public string Image { get; set; } = "";

    /// <summary><c>controller</c>: only in the controller Deployment (no per-node mode that
    /// serves Formation); <c>node</c>: only in the node DaemonSet; <c>any</c>: either.</summary>
    public string Placement { get; set; } = "";

    /// <summary>Which of the driver's sockets it dials (<c>csi</c> or <c>csi-addons</c>), and
    /// the flag that names it.</summary>
    public string Socket { get; set; } = "";

    public string SocketFlag { get; set; } = "";

    /// <summary>A flag naming the same socket as the host sees it, if any.</summary>
    public string? HostSocketFlag { get; set; }

    /// <summary>The flag that turns leader election on; none when it elects by itself or never.</summary>
    public string? LeaderElectionFlag { get; set; }

    /// <summary>Every flag the release accepts, without leading dashes.</summary>
    public List<string> Flags { get; set; } = [];

    /// <summary>Its feature gates and their defaults at this tag.</summary>
    public Dictionary<string, bool> FeatureGates { get; set; } = [];

    /// <summary>For a flag, the environment variables it makes the sidecar read, each with the
    /// pod field it must hold.</summary>
    public Dictionary<string, Dictionary<string, string>> EnvFor { get; set; } = [];

    /// <summary>Flags whose value must be a field of the sidecar's own pod.</summary>
    public Dictionary<string, string> ArgsFrom { get; set; } = [];

    public SidecarRules Rules { get; set; } = new();

    [YamlIgnore]
    public string File { get; private set; } = "";

    [YamlIgnore]
    public string Repository => ImageReference.Repository(Image);

    [YamlIgnore]
    public string Tag => ImageReference.Tag(Image)!;

    public static IReadOnlyList<SidecarRelease> All => Catalog.Value;

    /// <summary>The release whose image repository the container runs, or null.</summary>
    public static SidecarRelease? For(Container container) =>
        All.SingleOrDefault(r => r.Repository == ImageReference.Repository(container.Image));

    public override string ToString() => Image;

    private static SidecarRelease Load(string path)
    {
        var release = Strict.Deserialize<SidecarRelease>(System.IO.File.ReadAllText(path));
        release.File = Path.GetRelativePath(RepositoryPaths.Root, path);
        return release;
    }
}

/// <summary>API rules: cluster-wide (an upstream ClusterRole) and in the sidecar's own
/// namespace (an upstream Role).</summary>
public sealed class SidecarRules
{
    public List<PolicyRule> Cluster { get; set; } = [];

    public List<PolicyRule> Namespace { get; set; } = [];
}

/// <summary>Parts of an image reference <c>registry/path/name:tag</c> (or <c>@digest</c>).</summary>
public static class ImageReference
{
    public static string Repository(string image)
    {
        var at = image.IndexOf('@', StringComparison.Ordinal);
        var name = at < 0 ? image : image[..at];
        var colon = name.LastIndexOf(':');
        return colon > name.LastIndexOf('/') ? name[..colon] : name;
    }

    /// <summary>The tag, or null when the reference has none (it then means <c>latest</c>).</summary>
    public static string? Tag(string image)
    {
        var repository = Repository(image);
        return image.Length > repository.Length && image[repository.Length] == ':' ? image[(repository.Length + 1)..].Split('@')[0] : null;
    }

    public static bool HasDigest(string image) => image.Contains("@sha256:", StringComparison.Ordinal);
}
