using CsiDriver.Csi;

namespace CsiDriver.Tests.Deploy;

/// <summary>deploy/ read without a cluster: every object parses, and what one object says of
/// another (a mount of a volume, a variable of an env, a Service of a pod) holds.</summary>
public sealed class DeployManifestsTests
{
    private static DeployManifests Deploy => DeployManifests.Repository;

    [Fact]
    public void EveryObjectParsesAsAKnownKindWithItsApiVersion()
    {
        Assert.Empty(Deploy.Problems);
        var duplicates = Deploy.All
            .GroupBy(m => (m.Object.Kind, m.Object.Metadata.Namespace, m.Object.Metadata.Name))
            .Where(g => g.Count() > 1)
            .Select(g => string.Join(" and ", g));
        Assert.Empty(duplicates);
        // The parts issue 12 asks for are all there.
        foreach (var kind in new[] { "CSIDriver", "Deployment", "DaemonSet", "StorageClass", "VolumeSnapshotClass", "VolumeGroupSnapshotClass",
                     "VolumeAttributesClass", "VolumeReplicationClass", "VolumeGroupReplicationClass" })
        {
            Assert.Contains(Deploy.All, m => m.Object.Kind == kind);
        }
    }

    [Fact]
    public void ImagesArePinnedToATagOtherThanLatest()
    {
        var unpinned = Deploy.Containers
            .Where(c => !ImageReference.HasDigest(c.Container.Image) && ImageReference.Tag(c.Container.Image) is null or "latest")
            .Select(c => $"{c}: image '{c.Container.Image}'");
        Assert.Empty(unpinned);
    }

    [Fact]
    public void EveryVolumeMountNamesAVolumeOfItsPod()
    {
        var dangling = Deploy.Containers
            .SelectMany(c => c.Container.VolumeMounts
                .Where(m => !c.Pod.Volumes.Any(v => v.Name == m.Name))
                .Select(m => $"{c}: mount {m.MountPath} names no volume '{m.Name}'"));
        Assert.Empty(dangling);
        var ambiguous = Deploy.Objects<Workload>()
            .SelectMany(w => w.Template.Spec.Volumes.GroupBy(v => v.Name).Where(g => g.Count() > 1)
                .Select(g => $"{w.Kind} {w.Metadata.Name}: volume '{g.Key}' defined {g.Count()} times"));
        Assert.Empty(ambiguous);
    }

    [Fact]
    public void EveryExpandedVariableIsAnEnvOfItsContainerFromAKnownField()
    {
        var problems = new List<string>();
        foreach (var c in Deploy.Containers)
        {
            foreach (var name in c.Container.Command.Concat(c.Container.Args).SelectMany(ContainerArgs.Expansions).Distinct())
            {
                if (!c.Container.Env.Any(e => e.Name == name))
                {
                    problems.Add($"{c}: $({name}) is expanded but {name} is not in its env");
                }
            }
            foreach (var env in c.Container.Env)
            {
                if (env.ValueFrom?.FieldRef is { } field && !PodFields.Samples.ContainsKey(field.FieldPath))
                {
                    problems.Add($"{c}: env {env.Name} takes the field '{field.FieldPath}', none of {string.Join(", ", PodFields.Samples.Keys)}");
                }
                if ((env.Value is null) == (env.ValueFrom is null))
                {
                    problems.Add($"{c}: env {env.Name} needs exactly one of value and valueFrom");
                }
            }
        }
        Assert.Empty(problems);
    }

    [Fact]
    public void WorkloadsSelectTheirOwnPodsAndProbesNameTheirPorts()
    {
        var problems = new List<string>();
        foreach (var workload in Deploy.Objects<Workload>())
        {
            if (workload.Selector.MatchLabels.Count == 0
                || workload.Selector.MatchLabels.Any(l => workload.Template.Metadata.Labels.GetValueOrDefault(l.Key) != l.Value))
            {
                problems.Add($"{workload.Kind} {workload.Metadata.Name}: selector does not match its pod template's labels");
            }
        }
        foreach (var c in Deploy.Containers)
        {
            if (c.Container.LivenessProbe?.HttpGet is { } get && !c.Container.Ports.Any(p => p.Name == get.Port || p.ContainerPort.ToString() == get.Port))
            {
                problems.Add($"{c}: liveness probe port '{get.Port}' is not a port of this container");
            }
        }
        Assert.Empty(problems);
    }

    [Fact]
    public void ServicesSelectOnePodAndTargetItsPorts()
    {
        var problems = new List<string>();
        foreach (var service in Deploy.Objects<Service>())
        {
            var pods = Deploy.Objects<Workload>()
                .Where(w => w.Metadata.Namespace == service.Metadata.Namespace
                    && service.Spec.Selector.Count > 0
                    && service.Spec.Selector.All(l => w.Template.Metadata.Labels.GetValueOrDefault(l.Key) == l.Value))
                .ToList();
            if (pods.Count != 1)
            {
                problems.Add($"Service {service.Metadata.Name} selects {pods.Count} workloads");
                continue;
            }
            var ports = pods[0].Template.Spec.Containers.SelectMany(c => c.Ports).ToList();
            foreach (var port in service.Spec.Ports)
            {
                var target = port.TargetPort ?? port.Port.ToString();
                if (!ports.Any(p => p.Name == target || p.ContainerPort.ToString() == target))
                {
                    problems.Add($"Service {service.Metadata.Name}: target port '{target}' is no container port of {pods[0].Metadata.Name}");
                }
            }
        }
        Assert.Empty(problems);
    }

    [Fact]
    public void ClassesNameTheDriverAndOnlyParametersItTakes()
    {
        var driver = Assert.Single(Deploy.Objects<CsiDriverObject>()).Metadata.Name;
        Assert.Equal(DriverOptions.DefaultDriverName, driver);
        var problems = new List<string>();
        void Check(KubeObject owner, string named, IReadOnlyDictionary<string, string> parameters, IReadOnlyList<string> known, string? reservedPrefix)
        {
            if (named != driver)
            {
                problems.Add($"{owner.Kind} {owner.Metadata.Name} names driver '{named}', not {driver}");
            }
            var unknown = VolumeParameters.Unknown(parameters.Keys.Where(k => reservedPrefix is null || !k.StartsWith(reservedPrefix, StringComparison.Ordinal)), known);
            if (unknown.Count > 0)
            {
                problems.Add($"{owner.Kind} {owner.Metadata.Name}: the driver refuses parameter(s) {string.Join(", ", unknown)} (it takes: {string.Join(", ", known)})");
            }
        }
        foreach (var c in Deploy.Objects<StorageClass>())
        {
            Check(c, c.Provisioner, c.Parameters, VolumeParameters.Create, null);
        }
        foreach (var c in Deploy.Objects<VolumeAttributesClass>())
        {
            Check(c, c.DriverName, c.Parameters, VolumeParameters.Mutable, null);
        }
        // CreateSnapshot and CreateVolumeGroupSnapshot take no parameters.
        foreach (var c in Deploy.Objects<SnapshotClass>())
        {
            Check(c, c.Driver, c.Parameters, [], null);
        }
        // The csi-addons controller keeps its own keys (the secret's name and namespace) and
        // passes the rest: a VolumeReplicationClass's to EnableVolumeReplication, a
        // VolumeGroupReplicationClass's to CreateVolumeGroup, which takes none.
        var replication = new[] { ReplicationService.PeerAddressParameter, ReplicationService.ModeParameter, ReplicationService.JournalBudgetParameter };
        foreach (var c in Deploy.Objects<ReplicationClass>("VolumeReplicationClass"))
        {
            Check(c, c.Spec.Provisioner, c.Spec.Parameters, replication, ReplicationService.CsiAddonsPrefix);
            if (!c.Spec.Parameters.ContainsKey(ReplicationService.PeerAddressParameter))
            {
                problems.Add($"VolumeReplicationClass {c.Metadata.Name} has no {ReplicationService.PeerAddressParameter}, which EnableVolumeReplication requires");
            }
        }
        foreach (var c in Deploy.Objects<ReplicationClass>("VolumeGroupReplicationClass"))
        {
            Check(c, c.Spec.Provisioner, c.Spec.Parameters, [], ReplicationService.CsiAddonsPrefix);
        }
        Assert.Empty(problems);
    }
}
