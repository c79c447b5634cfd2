using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using static Csi.V1.VolumeCapability.Types.AccessMode.Types;

namespace CsiDriver.ConformanceTests;

/// <summary>ControllerPublishVolume and ControllerUnpublishVolume on the driver's single node.</summary>
public sealed class PublishTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    private string Node => fixture.NodeId;

    private async Task<IReadOnlyList<string>> PublishedNodesAsync(string volumeId) =>
        (await Csi.ControllerGetVolume(volumeId)).Status.PublishedNodeIds;

    [Fact]
    public async Task Publishing_attaches_the_volume_to_the_node()
    {
        var volume = await Csi.CreateAsync("publish");

        await Csi.PublishAsync(volume, Node);

        Assert.Equal([Node], await PublishedNodesAsync(volume.VolumeId));
    }

    [Fact]
    public async Task Publishing_again_with_the_same_arguments_returns_the_same_context()
    {
        // spec: ControllerPublishVolume — already published and compatible: "MUST reply 0 OK".
        var volume = await Csi.CreateAsync("publish-twice", Volumes.Block());

        var first = await Csi.PublishAsync(volume, Node, Volumes.Block());
        var second = await Csi.PublishAsync(volume, Node, Volumes.Block());

        Assert.Equal(first.PublishContext, second.PublishContext);
        Assert.Equal([Node], await PublishedNodesAsync(volume.VolumeId));
    }

    [Fact]
    public async Task Publishing_with_an_incompatible_access_mode_already_exists()
    {
        // spec: ControllerPublishVolume Errors — "Volume published but is incompatible: 6 ALREADY_EXISTS".
        var volume = await Csi.CreateAsync("publish-other-mode");
        await Csi.PublishAsync(volume, Node, Volumes.Mount("", Mode.SingleNodeWriter));

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Csi.PublishAsync(volume, Node, Volumes.Mount("", Mode.SingleNodeReaderOnly)));
    }

    [Fact]
    public async Task Unknown_volume_or_node_is_not_found()
    {
        var volume = await Csi.CreateAsync("publish-unknown-node");
        var ghost = new Volume { VolumeId = "never-created-" + Guid.NewGuid().ToString("N") };

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.PublishAsync(ghost, Node));
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.PublishAsync(volume, "no-such-node"));
    }

    [Fact]
    public async Task A_volume_published_here_cannot_be_published_to_an_unknown_node()
    {
        var volume = await Csi.CreateAsync("publish-then-elsewhere");
        await Csi.PublishAsync(volume, Node);

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.PublishAsync(volume, "some-other-node"));
        Assert.Equal([Node], await PublishedNodesAsync(volume.VolumeId));
    }

    [Fact]
    public async Task Missing_fields_are_invalid_arguments()
    {
        var volume = await Csi.CreateAsync("publish-missing");
        ControllerPublishVolumeRequest Complete() => new() { VolumeId = volume.VolumeId, NodeId = Node, VolumeCapability = Volumes.Mount() };

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.ControllerPublishVolume(Complete().With(r => r.VolumeId = "")));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.ControllerPublishVolume(Complete().With(r => r.NodeId = "")));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.ControllerPublishVolume(Complete().With(r => r.VolumeCapability = null)));
        Assert.Empty(await PublishedNodesAsync(volume.VolumeId));
    }

    [Fact]
    public async Task An_unsupported_access_mode_is_an_invalid_argument()
    {
        var volume = await Csi.CreateAsync("publish-multi-node");

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.PublishAsync(volume, Node, Volumes.Mount("", Mode.MultiNodeMultiWriter)));
        Assert.Empty(await PublishedNodesAsync(volume.VolumeId));
    }

    public static TheoryData<string, VolumeCapability, VolumeCapability> UnusableAs => new()
    {
        { "block-as-mount", Volumes.Block(), Volumes.Mount() },
        { "mount-as-block", Volumes.Mount("ext4"), Volumes.Block() },
        { "ext4-as-xfs", Volumes.Mount("ext4"), Volumes.Mount("xfs") },
    };

    [Theory]
    [MemberData(nameof(UnusableAs))]
    public async Task Publishing_for_a_use_the_volume_cannot_serve_is_refused(string purpose, VolumeCapability created, VolumeCapability asked)
    {
        // spec: ControllerPublishVolumeRequest.volume_capability — "SP MUST ensure the CO can use
        // the published volume as described. Otherwise SP MUST return the appropriate gRPC error code."
        var volume = await Csi.CreateAsync(purpose, created);

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.PublishAsync(volume, Node, asked));
        Assert.Empty(await PublishedNodesAsync(volume.VolumeId));
    }

    [Fact]
    public async Task Racing_publishes_of_one_volume_attach_it_once()
    {
        // spec: Concurrency — secondary calls for one volume MAY be rejected with ABORTED.
        var volume = await Csi.CreateAsync("publish-race");
        var calls = Enumerable.Range(0, 6).Select(async _ =>
        {
            try
            {
                return (await Csi.PublishAsync(volume, Node)).PublishContext;
            }
            catch (RpcException e) when (e.Status == StatusCode.Aborted)
            {
                return null;
            }
        }).ToArray();

        var contexts = (await Task.WhenAll(calls)).OfType<Google.Protobuf.Collections.MapField<string, string>>().ToList();

        Assert.NotEmpty(contexts);
        Assert.All(contexts, context => Assert.Equal(contexts[0], context));
        Assert.Equal([Node], await PublishedNodesAsync(volume.VolumeId));
    }

    [Fact]
    public async Task Unpublishing_detaches_and_is_idempotent()
    {
        // spec: ControllerUnpublishVolume — not attached: "the Plugin MUST reply 0 OK".
        var volume = await Csi.CreateAsync("unpublish");
        await Csi.PublishAsync(volume, Node);

        await Csi.UnpublishAsync(volume.VolumeId, Node);
        await Csi.UnpublishAsync(volume.VolumeId, Node);

        Assert.Empty(await PublishedNodesAsync(volume.VolumeId));
    }

    [Fact]
    public async Task Unpublishing_without_a_node_detaches_from_every_node()
    {
        // spec: ControllerUnpublishVolumeRequest.node_id — "If the value is unset, the SP MUST
        // unpublish the volume from all nodes it is published to."
        var volume = await Csi.CreateAsync("unpublish-all");
        await Csi.PublishAsync(volume, Node);

        await Csi.ControllerUnpublishVolume(new ControllerUnpublishVolumeRequest { VolumeId = volume.VolumeId });

        Assert.Empty(await PublishedNodesAsync(volume.VolumeId));
    }

    [Fact]
    public async Task Unpublishing_an_unknown_volume_or_node_succeeds()
    {
        // spec: ControllerUnpublishVolume — volume or node not found and safely regarded as
        // unpublished: "the plugin SHOULD return 0 OK".
        var volume = await Csi.CreateAsync("unpublish-unknown");

        await Csi.UnpublishAsync("never-created-" + Guid.NewGuid().ToString("N"), Node);
        await Csi.UnpublishAsync(volume.VolumeId, "no-such-node");
    }

    [Fact]
    public async Task Unpublishing_without_a_volume_id_is_an_invalid_argument()
    {
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.UnpublishAsync("", Node));
    }

    [Fact]
    public async Task Publishing_past_the_per_node_limit_is_resource_exhausted()
    {
        // spec: ControllerPublishVolume Errors — "Max volumes attached: 8 RESOURCE_EXHAUSTED".
        using var workspace = DriverWorkspace.Create();
        await using var driver = await DriverProcess.StartAsync(workspace, new DriverSettings { MaxVolumesPerNode = 2 });
        var csi = driver.Csi;
        var first = await csi.CreateAsync("limit-1");
        var second = await csi.CreateAsync("limit-2");
        var third = await csi.CreateAsync("limit-3");
        await csi.PublishAsync(first, driver.NodeId);
        await csi.PublishAsync(second, driver.NodeId);

        await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, () => csi.PublishAsync(third, driver.NodeId));
        await csi.PublishAsync(first, driver.NodeId); // a repeat attaches nothing new
        await csi.UnpublishAsync(second.VolumeId, driver.NodeId);
        await csi.PublishAsync(third, driver.NodeId);

        Assert.Equal([driver.NodeId], (await csi.ControllerGetVolume(third.VolumeId)).Status.PublishedNodeIds);
        await driver.StopAsync();
    }
}
