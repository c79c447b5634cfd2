namespace CsiDriver.Tests.Deploy;

/// <summary>Changed-block tracking in deploy/: the SnapshotMetadataService object names the
/// driver and an address that reaches the csi-snapshot-metadata sidecar's TLS port, whose
/// certificate comes from a mounted secret.</summary>
public sealed class DeploySnapshotMetadataTests
{
    private static DeployManifests Deploy => DeployManifests.Repository;

    private static PodContainer Sidecar => Assert.Single(Deploy.Containers, c => c.Container.Name == "csi-snapshot-metadata");

    [Fact]
    public void TheServiceObjectIsNamedAfterTheDriver()
    {
        var service = Assert.Single(Deploy.Objects<SnapshotMetadataService>());
        Assert.Equal(Assert.Single(Deploy.Objects<CsiDriverObject>()).Metadata.Name, service.Metadata.Name);
        Assert.NotEmpty(service.Spec.Audience);
    }

    [Fact]
    public void TheAddressReachesTheSidecarsPort()
    {
        var address = Assert.Single(Deploy.Objects<SnapshotMetadataService>()).Spec.Address;
        var (host, port) = (address[..address.LastIndexOf(':')], int.Parse(address[(address.LastIndexOf(':') + 1)..]));
        var service = Assert.Single(Deploy.Objects<Service>(), s => host == $"{s.Metadata.Name}.{s.Metadata.Namespace}");
        var servicePort = Assert.Single(service.Spec.Ports, p => p.Port == port);
        var sidecar = Sidecar;
        Assert.All(service.Spec.Selector, label => Assert.Equal(label.Value, sidecar.Workload.Template.Metadata.Labels.GetValueOrDefault(label.Key)));
        var containerPort = Assert.Single(sidecar.Container.Ports, p => p.Name == servicePort.TargetPort || p.ContainerPort.ToString() == servicePort.TargetPort);
        var flags = ContainerArgs.Flags(sidecar.Container.Args, [], sidecar.ToString());
        Assert.Equal(containerPort.ContainerPort.ToString(), ContainerArgs.Find(flags, "port")?.Value ?? "50051");
    }

    [Fact]
    public void TheCertificateAndKeyComeFromAMountedSecret()
    {
        var sidecar = Sidecar;
        var flags = ContainerArgs.Flags(sidecar.Container.Args, [], sidecar.ToString());
        foreach (var name in new[] { "tls-cert", "tls-key" })
        {
            var path = ContainerArgs.Find(flags, name)?.Value;
            Assert.False(string.IsNullOrEmpty(path), $"--{name} is not given");
            var mount = Assert.Single(sidecar.Container.VolumeMounts, m => path!.StartsWith(m.MountPath + "/", StringComparison.Ordinal));
            Assert.NotNull(Assert.Single(sidecar.Pod.Volumes, v => v.Name == mount.Name).Secret);
        }
    }
}
