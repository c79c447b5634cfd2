namespace CsiDriver.Tests.Deploy;

/// <summary>The upstream sidecars of deploy/ against what their pinned releases accept and need
/// (Deploy/Sidecars/*.yaml), and against what Formation needs of them.</summary>
public sealed class DeploySidecarsTests
{
    private static DeployManifests Deploy => DeployManifests.Repository;

    private static IEnumerable<(PodContainer Pod, SidecarRelease Release)> Sidecars => Deploy.Sidecars;

    [Fact]
    public void EveryOtherContainerIsACataloguedReleaseAtItsTag()
    {
        var problems = new List<string>();
        foreach (var c in Deploy.Containers.Where(c => !CsidriverCommandLine.Runs(c.Container)))
        {
            if (SidecarRelease.For(c.Container) is not { } release)
            {
                problems.Add($"{c}: image {c.Container.Image} has no release file in Deploy/Sidecars (its flags, gates and rules, read at the pinned tag)");
            }
            else if (ImageReference.Tag(c.Container.Image) != release.Tag)
            {
                problems.Add($"{c}: image {c.Container.Image}, but {release.File} was read at {release.Tag}");
            }
        }
        Assert.Empty(problems);
    }

    [Fact]
    public void SidecarArgsAreFlagsOfThePinnedRelease()
    {
        var problems = new List<string>();
        foreach (var (c, release) in Sidecars)
        {
            foreach (var flag in ContainerArgs.Flags(c.Container.Args, problems, c.ToString()).Where(f => !release.Flags.Contains(f.Name)))
            {
                problems.Add($"{c}: {release.Image} has no flag --{flag.Name} ({release.File})");
            }
            if (c.Container.Command.Count > 0)
            {
                problems.Add($"{c}: a command replaces the image's entry point; give args only");
            }
        }
        Assert.Empty(problems);
    }

    [Fact]
    public void FeatureGatesAreGatesOfThePinnedRelease()
    {
        var problems = new List<string>();
        foreach (var (c, release) in Sidecars)
        {
            foreach (var flag in ContainerArgs.Flags(c.Container.Args, problems, c.ToString()).Where(f => f.Name == "feature-gates"))
            {
                foreach (var (gate, value) in ContainerArgs.FeatureGates(flag.Value ?? ""))
                {
                    if (!release.FeatureGates.ContainsKey(gate))
                    {
                        problems.Add($"{c}: {release.Image} has no feature gate {gate} (it has {string.Join(", ", release.FeatureGates.Keys)})");
                    }
                    if (value is not ("true" or "false"))
                    {
                        problems.Add($"{c}: feature gate {gate}='{value}' is not true or false");
                    }
                }
            }
        }
        Assert.Empty(problems);
    }

    [Fact]
    public void EnvThatAFlagMakesASidecarReadHoldsTheRightField()
    {
        var problems = new List<string>();
        foreach (var (c, release) in Sidecars)
        {
            var flags = ContainerArgs.Flags(c.Container.Args, problems, c.ToString());
            foreach (var (flag, env) in release.EnvFor.Where(e => ContainerArgs.IsOn(flags, e.Key)))
            {
                foreach (var (name, field) in env.Where(e => PodFields.Of(c.Container, e.Key) != e.Value))
                {
                    problems.Add($"{c}: --{flag} makes it read {name}, which must be the pod's {field}");
                }
            }
        }
        Assert.Empty(problems);
    }

    [Fact]
    public void ArgsThatCarryAPodFieldExpandThatField()
    {
        var problems = new List<string>();
        var pairs = Sidecars.Select(s => (s.Pod, s.Release.ArgsFrom))
            .Concat(Deploy.Containers.Where(c => CsidriverCommandLine.Runs(c.Container)).Select(c => (c, CsidriverContract.Instance.ArgsFrom.GetValueOrDefault(c.Container.Args.FirstOrDefault() ?? "") ?? [])));
        foreach (var (c, argsFrom) in pairs)
        {
            var flags = ContainerArgs.Flags(c.Container.Args.Where(a => a.StartsWith('-')), problems, c.ToString());
            foreach (var (name, field) in argsFrom)
            {
                if (ContainerArgs.Find(flags, name) is not { } flag)
                {
                    problems.Add($"{c}: --{name} is missing; it must be the pod's {field}");
                }
                else if (ContainerArgs.Expansions(flag.Value ?? "").SingleOrDefault() is not { } variable
                    || flag.Value != $"$({variable})" || PodFields.Of(c.Container, variable) != field)
                {
                    problems.Add($"{c}: {flag} must expand a variable that holds the pod's {field}");
                }
            }
        }
        Assert.Empty(problems);
    }

    [Fact]
    public void ControllerSidecarsRunOnlyInTheControllerAndNodeSidecarsOnlyOnNodes()
    {
        var misplaced = Sidecars
            .Where(s => s.Release.Placement switch
            {
                "controller" => s.Pod.Workload is not Deployment,
                "node" => s.Pod.Workload is not DaemonSet,
                "any" => false,
                var other => throw new InvalidDataException($"{s.Release.File}: placement '{other}' is none of controller, node, any"),
            })
            .Select(s => $"{s.Pod}: {s.Release.Image} runs in the {s.Release.Placement} pod only");
        Assert.Empty(misplaced);
    }

    [Fact]
    public void SidecarsOfTheControllerElectALeader()
    {
        var problems = new List<string>();
        foreach (var (c, release) in Sidecars.Where(s => s.Pod.Workload is Deployment && s.Release.LeaderElectionFlag is not null))
        {
            if (!ContainerArgs.IsOn(ContainerArgs.Flags(c.Container.Args, problems, c.ToString()), release.LeaderElectionFlag!))
            {
                problems.Add($"{c}: --{release.LeaderElectionFlag} is off; two controller pods that overlap would both act");
            }
        }
        Assert.Empty(problems);
    }

    [Fact]
    public void SidecarsDialTheSocketTheDriverServesInTheirPod()
    {
        var problems = new List<string>();
        foreach (var (c, release) in Sidecars)
        {
            var flags = ContainerArgs.Flags(c.Container.Args, problems, c.ToString());
            var driver = c.Pod.Containers.SingleOrDefault(CsidriverCommandLine.ServesCsi);
            var served = driver is null ? null : CsidriverCommandLine.SocketPath(driver, release.Socket);
            if (served is null)
            {
                problems.Add($"{c}: no csidriver in its pod serves the {release.Socket} socket");
                continue;
            }
            var dialled = ContainerArgs.Find(flags, release.SocketFlag)?.Value;
            var ours = dialled is null ? null : SocketVolumes.Resolve(c.Pod, c.Container, dialled);
            var theirs = SocketVolumes.Resolve(c.Pod, driver!, served);
            if (ours is null || ours != theirs)
            {
                problems.Add($"{c}: --{release.SocketFlag}={dialled} is {ours?.ToString() ?? "in no volume"}, the driver serves {served} at {theirs?.ToString() ?? "no volume"}");
            }
            if (release.HostSocketFlag is { } hostFlag && theirs is not null)
            {
                var onHost = SocketVolumes.OnHost(c.Pod, theirs);
                if (ContainerArgs.Find(flags, hostFlag)?.Value is not { } given || given != onHost)
                {
                    problems.Add($"{c}: --{hostFlag} must be the socket's host path {onHost ?? "(its volume is no hostPath)"}");
                }
            }
        }
        Assert.Empty(problems);
    }

    /// <summary>What Formation needs of each sidecar (issue 12 and the cluster contract): each
    /// runs once where the contract puts it, with these flags.</summary>
    [Theory]
    [InlineData("registry.k8s.io/sig-storage/csi-provisioner", "Deployment", "strict-topology", "enable-capacity", "feature-gates:Topology", "feature-gates:VolumeAttributesClass")]
    [InlineData("registry.k8s.io/sig-storage/csi-snapshotter", "Deployment", "feature-gates:CSIVolumeGroupSnapshot")]
    [InlineData("registry.k8s.io/sig-storage/csi-resizer", "Deployment", "feature-gates:VolumeAttributesClass")]
    [InlineData("quay.io/csiaddons/k8s-sidecar", "Deployment")]
    [InlineData("registry.k8s.io/sig-storage/csi-node-driver-registrar", "DaemonSet")]
    [InlineData("registry.k8s.io/sig-storage/livenessprobe", "Deployment")]
    [InlineData("registry.k8s.io/sig-storage/livenessprobe", "DaemonSet")]
    public void FormationGetsWhatItNeedsOfEachSidecar(string repository, string workloadKind, params string[] required)
    {
        var c = Assert.Single(Deploy.Containers, c => ImageReference.Repository(c.Container.Image) == repository && c.Workload.Kind == workloadKind);
        var problems = new List<string>();
        var flags = ContainerArgs.Flags(c.Container.Args, problems, c.ToString());
        foreach (var need in required)
        {
            var gate = need.Split(':', 2);
            var on = gate.Length == 1
                ? ContainerArgs.IsOn(flags, need)
                : ContainerArgs.Find(flags, gate[0])?.Value is { } gates && ContainerArgs.FeatureGates(gates).GetValueOrDefault(gate[1]) == "true";
            if (!on)
            {
                problems.Add($"{c}: needs {(gate.Length == 1 ? "--" + need : $"--feature-gates={gate[1]}=true")}");
            }
        }
        Assert.Empty(problems);
    }
}
