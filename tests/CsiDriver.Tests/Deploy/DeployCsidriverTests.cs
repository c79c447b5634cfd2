using System.Text.RegularExpressions;

namespace CsiDriver.Tests.Deploy;

/// <summary>csidriver in deploy/: its args against its own command line, and the pods, ports,
/// Services and CSIDriver around it against the cluster contract.</summary>
public sealed partial class DeployCsidriverTests
{
    private static DeployManifests Deploy => DeployManifests.Repository;

    private static IEnumerable<PodContainer> Drivers => Deploy.Containers.Where(c => CsidriverCommandLine.Runs(c.Container));

    [Fact]
    public void CsidriverArgsAreFlagsOfItsCommandLine()
    {
        var problems = new List<string>();
        // The controller, the node's csidriver and the node's session holder.
        Assert.Equal(3, Drivers.Count());
        foreach (var c in Drivers)
        {
            var name = c.Container.Args.FirstOrDefault() ?? "";
            if (CsidriverCommandLine.Command(name) is not { } command)
            {
                problems.Add($"{c}: csidriver has no subcommand '{name}'");
                continue;
            }
            var known = CsidriverCommandLine.FlagsOf(command);
            foreach (var flag in ContainerArgs.Flags(c.Container.Args.Skip(1), problems, c.ToString()).Where(f => !known.Contains(f.Name)))
            {
                problems.Add($"{c}: csidriver {name} has no flag --{flag.Name}");
            }
        }
        // The binary is the authority, and the contract must agree with it.
        foreach (var (name, flags) in CsidriverContract.Instance.Commands)
        {
            var built = CsidriverCommandLine.Command(name) is { } command ? CsidriverCommandLine.FlagsOf(command) : [];
            problems.AddRange(flags.Where(f => !built.Contains(f)).Select(f => $"the contract's csidriver {name} --{f} is not in the binary"));
        }
        Assert.Empty(problems);
    }

    /// <summary>The args as the binary parses them, values included (its validators run), with
    /// the pod fields expanded as the kubelet would.</summary>
    [Fact]
    public void CsidriverArgsParseAsTheBinaryReadsThem()
    {
        var problems = new List<string>();
        var parsed = 0;
        foreach (var c in Drivers.Where(c => CsidriverCommandLine.Command(c.Container.Args.FirstOrDefault() ?? "") is not null))
        {
            problems.AddRange(CsidriverCommandLine.ParseErrors(PodFields.ExpandedArgs(c.Container)).Select(e => $"{c}: {e}"));
            parsed++;
        }
        Assert.Empty(problems);
        Assert.True(parsed > 0, "no csidriver container of deploy/ runs a subcommand the binary has");
    }

    [Fact]
    public void AttachRequiredAndStorageCapacityAgreeWithTheSidecars()
    {
        var spec = Assert.Single(Deploy.Objects<CsiDriverObject>()).Spec;
        Assert.NotNull(spec.AttachRequired);
        var attachers = Deploy.Containers.Where(c => ImageReference.Repository(c.Container.Image).EndsWith("/csi-attacher", StringComparison.Ordinal)).ToList();
        if (spec.AttachRequired == true)
        {
            Assert.True(attachers.Count == 1 && attachers[0].Workload is Deployment,
                "attachRequired: true needs one csi-attacher, in the controller Deployment (else every PVC waits for a VolumeAttachment no one handles)");
        }
        else
        {
            Assert.True(attachers.Count == 0, $"attachRequired: false, yet {string.Join(", ", attachers)} runs (the controller offers no ControllerPublish)");
        }
        var provisioner = Assert.Single(Deploy.Containers, c => ImageReference.Repository(c.Container.Image).EndsWith("/csi-provisioner", StringComparison.Ordinal));
        var capacity = ContainerArgs.IsOn(ContainerArgs.Flags(provisioner.Container.Args, [], ""), "enable-capacity");
        Assert.True(capacity == (spec.StorageCapacity == true),
            $"CSIDriver storageCapacity is {spec.StorageCapacity}, the provisioner's --enable-capacity is {capacity}: the scheduler would use no capacity, or capacity no one publishes");
    }

    [Fact]
    public void NodesReachTheControllerThroughItsService()
    {
        var servers = Drivers.Where(c => CsidriverCommandLine.ServesCsi(c.Container)).ToList();
        var node = Assert.Single(servers, c => c.Workload is DaemonSet);
        var controller = Assert.Single(servers, c => c.Workload is Deployment);
        var nodeFlags = ContainerArgs.Flags(node.Container.Args.Skip(1), [], "");
        var address = ContainerArgs.Find(nodeFlags, "controller-address")?.Value;
        Assert.True(address is not null, "the node's csidriver has no --controller-address: it would run standalone, and the controller would know no node");
        var match = ServiceAddress().Match(address);
        Assert.True(match.Success, $"--controller-address={address} is not <service>.<namespace>.svc:<port>");
        var service = Assert.Single(Deploy.Objects<Service>(),
            s => s.Metadata.Name == match.Groups["name"].Value && s.Metadata.Namespace == match.Groups["namespace"].Value);
        var port = Assert.Single(service.Spec.Ports, p => p.Port.ToString() == match.Groups["port"].Value);
        var target = Assert.Single(controller.Container.Ports, p => p.Name == port.TargetPort || p.ContainerPort.ToString() == port.TargetPort);
        var listen = ContainerArgs.Find(ContainerArgs.Flags(controller.Container.Args.Skip(1), [], ""), "node-link-address")?.Value;
        Assert.True(listen is not null && listen.EndsWith(":" + target.ContainerPort, StringComparison.Ordinal),
            $"Service {service.Metadata.Name} sends port {port.Port} to {target.ContainerPort}, but the controller's node link listens on {listen}");
        Assert.True(node.Pod.HostNetwork != true || node.Pod.DnsPolicy == "ClusterFirstWithHostNet",
            "a host-network pod resolves Service names only with dnsPolicy ClusterFirstWithHostNet");
    }

    /// <summary>Every port a pod declares is one a container of it listens on: a flag ending in
    /// -address, -endpoint or -port whose value is a port, or host:port on every address.</summary>
    [Fact]
    public void DeclaredPortsAreListenedOn()
    {
        var problems = new List<string>();
        foreach (var workload in Deploy.Objects<Workload>())
        {
            var pod = workload.Template.Spec;
            var listened = pod.Containers
                .SelectMany(c => ContainerArgs.Flags(c.Args.Where(a => a.StartsWith('-')), [], ""))
                .Where(f => f.Name.EndsWith("-address", StringComparison.Ordinal) || f.Name.EndsWith("-endpoint", StringComparison.Ordinal) || f.Name == "port" || f.Name.EndsWith("-port", StringComparison.Ordinal))
                .Select(f => ListenPort().Match(f.Value ?? ""))
                .Where(m => m.Success)
                .Select(m => int.Parse(m.Groups["port"].Value))
                .ToHashSet();
            foreach (var c in pod.Containers)
            {
                foreach (var port in c.Ports)
                {
                    if (!listened.Contains(port.ContainerPort))
                    {
                        problems.Add($"{workload.Kind} {workload.Metadata.Name}, container {c.Name}: port {port.ContainerPort} ({port.Name}) is listened on by no container");
                    }
                    if (pod.HostNetwork == true && port.HostPort is { } host && host != port.ContainerPort)
                    {
                        problems.Add($"{workload.Kind} {workload.Metadata.Name}, container {c.Name}: with the host network hostPort {host} must equal containerPort {port.ContainerPort}");
                    }
                }
            }
        }
        Assert.Empty(problems);
    }

    [Fact]
    public void TheNodePodRunsOnEveryNodeAndTheControllerOnce()
    {
        var node = Deploy.Node.Template.Spec;
        Assert.Equal("system-node-critical", node.PriorityClassName);
        // The site link must be reachable from the other cluster: the node's own address.
        Assert.True(node.HostNetwork, "the node pod must use the host network: the other cluster reaches the site link at the node's address");
        Assert.Contains(node.Tolerations, t => t.GetValueOrDefault("operator") == "Exists" && !t.ContainsKey("key"));
        var controller = Deploy.Controller.Spec;
        Assert.Equal(1, controller.Replicas);
        // Nodes register with the one controller their Service reaches: never two at once.
        Assert.Equal("Recreate", controller.Strategy?.Type);
    }

    [GeneratedRegex(@"^(?<name>[a-z0-9-]+)\.(?<namespace>[a-z0-9-]+)\.svc(\.cluster\.local)?:(?<port>\d+)$")]
    private static partial Regex ServiceAddress();

    [GeneratedRegex(@"^((0\.0\.0\.0|\[::\])?:)?(?<port>\d+)$")]
    private static partial Regex ListenPort();
}
