using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>
/// The CSI spec's size limits ("Size Limits": a string 128 bytes, a map 4 KiB, node_id 256
/// bytes, paths longer): the limit is accepted, one byte past it is INVALID_ARGUMENT naming the
/// field, and nothing unbounded reaches the log (issue 14, defect 9).
/// </summary>
public sealed class RequestSizeLimitsTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    private static string Text(int bytes, char fill = 'n') => new(fill, bytes);

    [Fact]
    public async Task A_name_of_128_bytes_is_taken_and_one_longer_is_refused()
    {
        var name = "limit-" + Guid.NewGuid().ToString("N");
        name += Text(128 - name.Length);
        var volume = (await Csi.CreateVolume(Volumes.Request(name))).Volume;
        Assert.Equal(volume.VolumeId, (await Csi.CreateVolume(Volumes.Request(name))).Volume.VolumeId);
        var failure = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolume(Volumes.Request(name + "x")));
        Assert.Contains("name is 129 bytes", failure.Message);
        await Csi.DeleteVolume(volume.VolumeId);
    }

    [Fact]
    public async Task A_huge_name_is_refused_and_the_log_line_stays_short()
    {
        var marker = "huge-" + Guid.NewGuid().ToString("N");
        var name = marker + Text(3_000_000);
        var before = (await Csi.ListAllAsync()).Count;
        var failure = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolume(Volumes.Request(name)));
        Assert.True(failure.Message.Length < 200, $"the status message echoes the field: {failure.Message.Length} characters");

        var line = await fixture.Driver.Output.WaitForLineAsync(l => l.Contains(marker), $"the log line of {marker}");
        Assert.InRange(line.Length, 1, 16 * 1024);
        Assert.DoesNotContain(fixture.Driver.Output.StandardOutput, l => l.Length > 16 * 1024);
        Assert.Equal(before, (await Csi.ListAllAsync()).Count);
    }

    [Fact]
    public async Task Ids_parameters_and_secrets_past_their_limits_are_refused_naming_the_field()
    {
        var id = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.DeleteVolume(Text(129)));
        Assert.Contains("volume_id", id.Message);

        var parameters = Volumes.Request(Volumes.UniqueName("params"));
        parameters.Parameters["note"] = Text(4097);
        Assert.Contains("parameters", (await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolume(parameters))).Message);

        var secrets = Volumes.Request(Volumes.UniqueName("secrets"));
        secrets.Secrets["token"] = Text(4097, 's');
        var secretFailure = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolume(secrets));
        Assert.Contains("secrets", secretFailure.Message);
        Assert.DoesNotContain("sss", secretFailure.Message);

        var flags = Volumes.Mount();
        flags.Mount.MountFlags.Add(Enumerable.Repeat(Text(100, 'f'), 41));
        var mountFlags = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolume(Volumes.Request(Volumes.UniqueName("flags"), flags)));
        Assert.Contains("volume_capabilities[0].mount.mount_flags", mountFlags.Message);
    }

    [Fact]
    public async Task Node_ids_and_paths_have_the_spec_s_larger_limits()
    {
        var volume = await Csi.CreateAsync("limits-node");
        // node_id up to 256 bytes: a well-sized unknown node is NOT_FOUND, not a size error.
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.ControllerPublishVolume(new ControllerPublishVolumeRequest
        {
            VolumeId = volume.VolumeId, NodeId = Text(256), VolumeCapability = Volumes.Mount(),
        }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.ControllerPublishVolume(new ControllerPublishVolumeRequest
        {
            VolumeId = volume.VolumeId, NodeId = Text(257), VolumeCapability = Volumes.Mount(),
        }));
        // A target path past 128 bytes is a path kubelet may well use: undoing it succeeds.
        var longTarget = Path.Combine(fixture.Driver.Workspace.KubeletDirectory, "pods", Text(200, 'p'), "mount");
        await Csi.NodeUnpublishVolume(new NodeUnpublishVolumeRequest { VolumeId = volume.VolumeId, TargetPath = longTarget });
        await Csi.DeleteVolume(volume.VolumeId);
    }
}
