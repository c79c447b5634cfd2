using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using Type = Csi.V1.NodeServiceCapability.Types.RPC.Types.Type;

namespace CsiDriver.ConformanceTests;

/// <summary>The Node service's answers and its refusals: arguments, unknown volumes, paths
/// outside the kubelet directory, idempotent undo.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class NodeTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    private DriverWorkspace Workspace => fixture.Driver.Workspace;

    [Fact]
    public async Task Capabilities_include_staging_stats_expansion_and_condition()
    {
        var types = (await Csi.NodeGetCapabilities()).Capabilities.Select(c => c.Rpc.Type).ToList();
        Assert.Contains(Type.StageUnstageVolume, types);
        Assert.Contains(Type.GetVolumeStats, types);
        Assert.Contains(Type.ExpandVolume, types);
        Assert.Contains(Type.VolumeCondition, types);
    }

    [Fact]
    public async Task Info_names_the_node_and_its_topology()
    {
        var info = await Csi.NodeGetInfo();
        Assert.Equal(fixture.NodeId, info.NodeId);
        Assert.Equal(fixture.NodeId, info.AccessibleTopology.Segments[Volumes.NodeTopologyKey]);
    }

    [Fact]
    public async Task Stage_needs_its_arguments()
    {
        var volume = await Csi.CreateAsync("stage-args");
        var staging = NodeSteps.StagingPath(Workspace, volume.VolumeId);
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.NodeStageVolume(new() { StagingTargetPath = staging, VolumeCapability = Volumes.Mount() }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.NodeStageVolume(new() { VolumeId = volume.VolumeId, VolumeCapability = Volumes.Mount() }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.NodeStageVolume(new() { VolumeId = volume.VolumeId, StagingTargetPath = staging }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.NodeStageVolume(new()
        {
            VolumeId = volume.VolumeId, StagingTargetPath = staging, VolumeCapability = Volumes.Block(),
        }));
    }

    [Fact]
    public async Task Staging_an_unknown_volume_is_not_found()
    {
        var failure = await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.StageAsync(Workspace, "vol-missing", Volumes.Mount()));
        Assert.Contains("vol-missing", failure.Message);
    }

    [Theory]
    [InlineData("/etc/formation-staging")]
    [InlineData("relative/path")]
    public async Task Paths_outside_the_kubelet_directory_are_refused(string path)
    {
        var volume = await Csi.CreateAsync("outside");
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.NodeStageVolume(new()
        {
            VolumeId = volume.VolumeId, StagingTargetPath = path, VolumeCapability = Volumes.Mount(),
        }));
    }

    [Fact]
    public async Task Dot_dot_escapes_are_refused()
    {
        var volume = await Csi.CreateAsync("dotdot");
        var escape = Workspace.KubeletDirectory + "/pods/../../escape";
        var failure = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.NodeStageVolume(new()
        {
            VolumeId = volume.VolumeId, StagingTargetPath = escape, VolumeCapability = Volumes.Mount(),
        }));
        Assert.Contains("..", failure.Message);
    }

    [Fact]
    public async Task A_planted_symlink_out_of_the_kubelet_directory_is_not_followed()
    {
        var volume = await Csi.CreateAsync("symlink");
        var outside = Directory.CreateDirectory(Path.Combine(Workspace.Root, "outside-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        var link = Path.Combine(Workspace.KubeletDirectory, "pods", "planted-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path.GetDirectoryName(link)!);
        Directory.CreateSymbolicLink(link, outside);
        Directory.CreateDirectory(Path.Combine(outside, "mount"));

        var failure = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.NodeStageVolume(new()
        {
            VolumeId = volume.VolumeId, StagingTargetPath = Path.Combine(link, "mount"), VolumeCapability = Volumes.Mount(),
        }));
        Assert.Contains("symbolic link", failure.Message);
        Assert.False(NodeSteps.IsMounted(Path.Combine(outside, "mount")));
    }

    [Fact]
    public async Task Undoing_what_was_never_done_succeeds()
    {
        var volume = await Csi.CreateAsync("never-staged");
        await Csi.UnpublishOnNodeAsync(Workspace, volume.VolumeId);
        await Csi.UnstageAsync(Workspace, volume.VolumeId);
        await Csi.UnstageAsync(Workspace, "vol-never-existed");
    }

    [Fact]
    public async Task Publishing_before_staging_is_a_failed_precondition()
    {
        var volume = await Csi.CreateAsync("unstaged-publish");
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.PublishOnNodeAsync(Workspace, volume.VolumeId, Volumes.Mount()));
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.NodePublishVolume(new()
        {
            VolumeId = volume.VolumeId, TargetPath = NodeSteps.TargetPath(Workspace, volume.VolumeId), VolumeCapability = Volumes.Mount(),
        }));
    }

    [Fact]
    public async Task Stats_of_a_path_that_holds_no_volume_are_not_found()
    {
        var volume = await Csi.CreateAsync("stats-unstaged");
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.NodeGetVolumeStats(new()
        {
            VolumeId = volume.VolumeId, VolumePath = NodeSteps.TargetPath(Workspace, volume.VolumeId),
        }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.NodeGetVolumeStats(new() { VolumeId = volume.VolumeId }));
    }

    /// <summary>csi-sanity's cases: a volume that does not exist is NOT_FOUND whatever the path
    /// looks like, relative ones included; the path's shape is not what is wrong.</summary>
    [Theory]
    [InlineData("some/path")]
    [InlineData("/not/under/the/kubelet/directory")]
    public async Task Stats_and_expansion_of_an_unknown_volume_are_not_found_at_any_path(string path)
    {
        var stats = await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.NodeGetVolumeStats(new() { VolumeId = "vol-missing", VolumePath = path }));
        Assert.Contains("vol-missing", stats.Message);
        var expand = await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.NodeExpandVolume(new()
        {
            VolumeId = "vol-missing", VolumePath = path, CapacityRange = new CapacityRange { RequiredBytes = Volumes.MiB },
        }));
        Assert.Contains("vol-missing", expand.Message);
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.NodeExpandVolume(new() { VolumeId = "vol-missing" }));
    }
}
