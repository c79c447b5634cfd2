using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace CsiDriver.Tests.Deploy;

/// <summary>One object of deploy/, with the file it came from (relative to the repository).</summary>
public sealed record Manifest(string File, KubeObject Object)
{
    public override string ToString() => $"{Object.Kind} {Object.Metadata.Name} ({File})";
}

/// <summary>A container of a workload of deploy/.</summary>
public sealed record PodContainer(Workload Workload, Container Container)
{
    public PodSpec Pod => Workload.Template.Spec;

    public override string ToString() => $"container {Container.Name} of {Workload.Kind} {Workload.Metadata.Name}";
}

/// <summary>
/// Every object of every YAML file under deploy/ (examples included), read strictly into the
/// types of KubernetesObjects.cs by kind. A document that does not parse, has a kind
/// not listed here or the wrong apiVersion for its kind, or lacks a name, is a problem.
/// </summary>
public sealed class DeployManifests
{
    private sealed record KindInfo(string ApiVersion, Type Type, bool Namespaced);

    // The API versions are those the cluster serves for these kinds at the pinned releases:
    // Kubernetes 1.34 (VolumeAttributesClass v1), the snapshot CRDs of external-snapshotter
    // v8.6.0 (VolumeGroupSnapshot v1), the csi-addons CRDs of kubernetes-csi-addons v0.14.0, the
    // SnapshotMetadataService CRD of external-snapshot-metadata v1.1.0.
    private static readonly Dictionary<string, KindInfo> Kinds = new(StringComparer.Ordinal)
    {
        ["ServiceAccount"] = new("v1", typeof(ServiceAccount), true),
        ["Service"] = new("v1", typeof(Service), true),
        ["Deployment"] = new("apps/v1", typeof(Deployment), true),
        ["DaemonSet"] = new("apps/v1", typeof(DaemonSet), true),
        ["ClusterRole"] = new("rbac.authorization.k8s.io/v1", typeof(Role), false),
        ["Role"] = new("rbac.authorization.k8s.io/v1", typeof(Role), true),
        ["ClusterRoleBinding"] = new("rbac.authorization.k8s.io/v1", typeof(RoleBinding), false),
        ["RoleBinding"] = new("rbac.authorization.k8s.io/v1", typeof(RoleBinding), true),
        ["CSIDriver"] = new("storage.k8s.io/v1", typeof(CsiDriverObject), false),
        ["StorageClass"] = new("storage.k8s.io/v1", typeof(StorageClass), false),
        ["VolumeAttributesClass"] = new("storage.k8s.io/v1", typeof(VolumeAttributesClass), false),
        ["VolumeSnapshotClass"] = new("snapshot.storage.k8s.io/v1", typeof(SnapshotClass), false),
        ["VolumeGroupSnapshotClass"] = new("groupsnapshot.storage.k8s.io/v1", typeof(SnapshotClass), false),
        ["VolumeReplicationClass"] = new("replication.storage.openshift.io/v1alpha1", typeof(ReplicationClass), false),
        ["VolumeGroupReplicationClass"] = new("replication.storage.openshift.io/v1alpha1", typeof(ReplicationClass), false),
        ["SnapshotMetadataService"] = new("cbt.storage.k8s.io/v1beta1", typeof(SnapshotMetadataService), false),
    };

    private static readonly IDeserializer Strict = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .Build();

    private static readonly Lazy<DeployManifests> InRepository =
        new(() => Load(Path.Combine(RepositoryPaths.Root, "deploy")));

    private DeployManifests(List<Manifest> manifests, List<string> problems)
    {
        All = manifests;
        Problems = problems;
    }

    /// <summary>The repository's deploy/ directory, read once.</summary>
    public static DeployManifests Repository => InRepository.Value;

    public IReadOnlyList<Manifest> All { get; }

    public IReadOnlyList<string> Problems { get; }

    public IEnumerable<T> Objects<T>() where T : KubeObject => All.Select(m => m.Object).OfType<T>();

    public IEnumerable<T> Objects<T>(string kind) where T : KubeObject => Objects<T>().Where(o => o.Kind == kind);

    public IEnumerable<PodContainer> Containers =>
        Objects<Workload>().SelectMany(w => w.Template.Spec.Containers.Select(c => new PodContainer(w, c)));

    /// <summary>The containers that run a catalogued upstream release, with it.</summary>
    public IEnumerable<(PodContainer Pod, SidecarRelease Release)> Sidecars =>
        Containers.Select(c => (Pod: c, Release: SidecarRelease.For(c.Container)))
            .Where(s => s.Release is not null)
            .Select(s => (s.Pod, s.Release!));

    /// <summary>The one controller Deployment.</summary>
    public Deployment Controller => Assert.Single(Objects<Deployment>());

    /// <summary>The one node DaemonSet.</summary>
    public DaemonSet Node => Assert.Single(Objects<DaemonSet>());

    private static DeployManifests Load(string directory)
    {
        var manifests = new List<Manifest>();
        var problems = new List<string>();
        foreach (var path in Directory.EnumerateFiles(directory, "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var file = Path.GetRelativePath(Path.GetDirectoryName(directory)!, path);
            var stream = new YamlStream();
            try
            {
                stream.Load(new StringReader(File.ReadAllText(path)));
            }
            catch (YamlException e)
            {
                problems.Add($"{file}: not YAML: {e.Message}");
                continue;
            }
            for (var i = 0; i < stream.Documents.Count; i++)
            {
                var where = $"{file}, document {i + 1}";
                if (Read(stream.Documents[i], where, problems) is { } read)
                {
                    manifests.Add(new Manifest(file, read));
                }
            }
        }
        return new DeployManifests(manifests, problems);
    }

    private static KubeObject? Read(YamlDocument document, string where, List<string> problems)
    {
        if (document.RootNode is not YamlMappingNode root
            || !root.Children.TryGetValue(new YamlScalarNode("kind"), out var kindNode)
            || kindNode is not YamlScalarNode { Value: { } kind })
        {
            problems.Add($"{where}: not an object with a kind");
            return null;
        }
        if (!Kinds.TryGetValue(kind, out var info))
        {
            problems.Add($"{where}: kind {kind} is none that deploy/ is expected to hold ({string.Join(", ", Kinds.Keys)})");
            return null;
        }
        KubeObject read;
        try
        {
            read = (KubeObject)Strict.Deserialize(Text(document), info.Type)!;
        }
        catch (YamlException e)
        {
            problems.Add($"{where} ({kind}): {e.Message}{(e.InnerException is { } inner ? ": " + inner.Message : "")}");
            return null;
        }
        if (read.ApiVersion != info.ApiVersion)
        {
            problems.Add($"{where}: {kind} {read.Metadata.Name} has apiVersion '{read.ApiVersion}', not {info.ApiVersion}");
        }
        if (read.Metadata.Name.Length == 0)
        {
            problems.Add($"{where}: {kind} has no metadata.name");
        }
        if (info.Namespaced != (read.Metadata.Namespace is not null))
        {
            problems.Add(info.Namespaced
                ? $"{where}: {kind} {read.Metadata.Name} has no namespace (it would land in whatever namespace kubectl is pointed at)"
                : $"{where}: {kind} {read.Metadata.Name} is cluster-scoped but names a namespace");
        }
        return read;
    }

    /// <summary>The document as text again, for the typed read (the representation model has
    /// parsed it once already to find its kind).</summary>
    private static string Text(YamlDocument document)
    {
        var writer = new StringWriter();
        new YamlStream(document).Save(writer, assignAnchors: false);
        return writer.ToString();
    }
}

/// <summary>Paths of the repository the tests run from.</summary>
public static class RepositoryPaths
{
    /// <summary>The directory holding CsiDriver.sln, found above the test assembly.</summary>
    public static string Root { get; } = Find();

    public static string DeployTestData => Path.Combine(Root, "tests", "CsiDriver.Tests", "Deploy");

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "CsiDriver.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("CsiDriver.sln not found above " + AppContext.BaseDirectory);
    }
}
