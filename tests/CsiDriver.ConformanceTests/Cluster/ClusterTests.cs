using Csi.V1;
using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Engine.Nbd;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests.Cluster;

/// <summary>
/// Formation as a multi-node cluster: `csidriver controller` and three `csidriver serve` nodes,
/// each on its own host (a network namespace), driven through the controller's sockets as the
/// provisioner, snapshotter, resizer and csi-addons sidecar drive them. Every object lives on
/// one node; the controller places new volumes by topology or free capacity, routes every other
/// call to the owner, keeps a consistency group on one node, and names a node that is down.
/// </summary>
public sealed class ClusterTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static readonly TimeSpan LapseTimeout = TimeSpan.FromSeconds(30);

    private TestCluster Cluster => fixture.Cluster;

    private CsiClient Csi => Cluster.Csi;

    private static TopologyRequirement Requisite(params string[] nodes) => new() { Requisite = { nodes.Select(Volumes.NodeTopology) } };

    private async Task<Volume> CreateOnAsync(string node, string purpose = "vol", long bytes = Volumes.GiB)
    {
        var request = Volumes.Request(Volumes.UniqueName(purpose), requiredBytes: bytes);
        request.AccessibilityRequirements = Requisite(node);
        return (await Csi.CreateVolume(request)).Volume;
    }

    private static string NodeOf(Volume volume) => volume.AccessibleTopology.Single().Segments[Volumes.NodeTopologyKey];

    [Fact]
    public async Task Capacity_is_answered_per_node_as_free_less_provisioned()
    {
        await CreateOnAsync("node-a", "capacity", 2 * Volumes.GiB);
        var provisioned = (await Csi.ListAllAsync()).GroupBy(e => NodeOf(e.Volume)).ToDictionary(g => g.Key, g => g.Sum(e => e.Volume.CapacityBytes));

        long total = 0;
        foreach (var node in Cluster.Nodes)
        {
            var capacity = await Csi.GetCapacity(new GetCapacityRequest { AccessibleTopology = Volumes.NodeTopology(node.NodeId) });
            var limit = long.Parse(node.CapacityLimit!.TrimEnd('G', 'i'), System.Globalization.CultureInfo.InvariantCulture) * Volumes.GiB;
            Assert.Equal(limit - provisioned.GetValueOrDefault(node.NodeId), capacity.AvailableCapacity);
            total += capacity.AvailableCapacity;
        }
        Assert.Equal(total, (await Csi.GetCapacity(new GetCapacityRequest())).AvailableCapacity);
        Assert.Equal(0, (await Csi.GetCapacity(new GetCapacityRequest { AccessibleTopology = Volumes.NodeTopology("no-such-node") })).AvailableCapacity);
    }

    [Fact]
    public async Task A_volume_goes_where_the_accessibility_requirements_say()
    {
        var preferred = Volumes.Request(Volumes.UniqueName("preferred"));
        preferred.AccessibilityRequirements = new TopologyRequirement
        {
            Requisite = { Cluster.Nodes.Select(n => Volumes.NodeTopology(n.NodeId)) },
            Preferred = { Volumes.NodeTopology("node-b"), Volumes.NodeTopology("node-c") },
        };
        var onB = (await Csi.CreateVolume(preferred)).Volume;
        var onA = await CreateOnAsync("node-a", "requisite");

        Assert.Equal("node-b", NodeOf(onB));
        Assert.EndsWith("_node-b", onB.VolumeId);
        Assert.Equal("node-a", NodeOf(onA));
        Assert.EndsWith("_node-a", onA.VolumeId);
        // Each lives in its node's engine: the node itself knows it, the others do not.
        Assert.Equal(onB.VolumeId, (await Cluster.Node("node-b").Csi.ControllerGetVolume(onB.VolumeId)).Volume.VolumeId);
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Cluster.Node("node-a").Csi.ControllerGetVolume(onB.VolumeId));
        // The same name again finds the volume where it is, whatever the requirements now prefer.
        preferred.AccessibilityRequirements.Preferred.Clear();
        Assert.Equal(onB.VolumeId, (await Csi.CreateVolume(preferred)).Volume.VolumeId);
    }

    [Fact]
    public async Task Without_requirements_the_node_with_the_most_free_capacity_gets_the_volume()
    {
        var free = new Dictionary<string, long>();
        foreach (var node in Cluster.Nodes)
        {
            free[node.NodeId] = (await Csi.GetCapacity(new GetCapacityRequest { AccessibleTopology = Volumes.NodeTopology(node.NodeId) })).AvailableCapacity;
        }

        var volume = await Csi.CreateAsync("anywhere");

        Assert.Equal(free.MaxBy(f => f.Value).Key, NodeOf(volume));
    }

    [Fact]
    public async Task A_requirement_no_node_can_meet_is_resource_exhausted()
    {
        var tooBig = Volumes.Request(Volumes.UniqueName("too-big"), requiredBytes: 15 * Volumes.GiB);
        tooBig.AccessibilityRequirements = Requisite("node-a");
        var elsewhere = Volumes.Request(Volumes.UniqueName("nowhere"));
        elsewhere.AccessibilityRequirements = Requisite("no-such-node");

        var failure = await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, () => Csi.CreateVolume(tooBig));
        Assert.Contains("node-a", failure.Message);
        await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, () => Csi.CreateVolume(elsewhere));
    }

    [Fact]
    public async Task Snapshots_clones_expansion_and_modification_go_to_the_volume_s_node()
    {
        var volume = await CreateOnAsync("node-a", "routed");
        var snapshot = await Csi.SnapshotAsync(volume.VolumeId);
        var clone = await Csi.CreateFromAsync("clone", Snapshots.OfSnapshot(snapshot.SnapshotId));
        await Csi.ControllerExpandVolume(new ControllerExpandVolumeRequest { VolumeId = volume.VolumeId, CapacityRange = new() { RequiredBytes = 2 * Volumes.GiB } });
        var group = Volumes.UniqueName("cg");
        await Csi.ControllerModifyVolume(new ControllerModifyVolumeRequest { VolumeId = volume.VolumeId, MutableParameters = { ["consistencyGroup"] = group } });

        Assert.EndsWith("_node-a", snapshot.SnapshotId);
        // A clone shares its source's data, so it is made on the source's node, even though
        // node-a has the least room.
        Assert.Equal("node-a", NodeOf(clone));
        Assert.Equal(snapshot.SnapshotId, (await Csi.GetSnapshot(snapshot.SnapshotId)).Snapshot.SnapshotId);
        Assert.Equal([snapshot.SnapshotId], (await Csi.ListAllSnapshotsAsync(new ListSnapshotsRequest { SourceVolumeId = volume.VolumeId })).Select(s => s.SnapshotId));
        Assert.Equal(2 * Volumes.GiB, (await Cluster.Node("node-a").Csi.ControllerGetVolume(volume.VolumeId)).Volume.CapacityBytes);

        // The consistency group now lives on node-a: a volume asked for on node-b cannot join it.
        var joining = Volumes.Request(Volumes.UniqueName("joining"));
        joining.AccessibilityRequirements = Requisite("node-b");
        joining.Parameters["consistencyGroup"] = group;
        var refused = await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, () => Csi.CreateVolume(joining));
        Assert.Contains("node-a", refused.Message);
        var onB = await CreateOnAsync("node-b", "mover");
        var moved = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition,
            () => Csi.ControllerModifyVolume(new ControllerModifyVolumeRequest { VolumeId = onB.VolumeId, MutableParameters = { ["consistencyGroup"] = group } }));
        Assert.Contains("node-a", moved.Message);
        Assert.Contains("node-b", moved.Message);

        await Csi.DeleteVolume(clone.VolumeId);
        await Csi.DeleteSnapshot(snapshot.SnapshotId);
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.GetSnapshot(snapshot.SnapshotId));
    }

    [Fact]
    public async Task A_group_snapshot_is_one_cut_on_one_node_and_refused_across_nodes()
    {
        var first = await CreateOnAsync("node-b", "member");
        var second = await CreateOnAsync("node-b", "member");
        var elsewhere = await CreateOnAsync("node-c", "member");

        var group = (await Csi.CreateVolumeGroupSnapshot(new CreateVolumeGroupSnapshotRequest
        {
            Name = Volumes.UniqueName("group"),
            SourceVolumeIds = { first.VolumeId, second.VolumeId },
        })).GroupSnapshot;
        var failure = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.CreateVolumeGroupSnapshot(new CreateVolumeGroupSnapshotRequest
        {
            Name = Volumes.UniqueName("spanning"),
            SourceVolumeIds = { first.VolumeId, elsewhere.VolumeId },
        }));

        Assert.EndsWith("_node-b", group.GroupSnapshotId);
        Assert.All(group.Snapshots, s => Assert.EndsWith("_node-b", s.SnapshotId));
        Assert.Contains("node-b", failure.Message);
        Assert.Contains("node-c", failure.Message);
        Assert.Contains(elsewhere.VolumeId, failure.Message);
        Assert.Equal(group.GroupSnapshotId, (await Csi.GetVolumeGroupSnapshot(new GetVolumeGroupSnapshotRequest { GroupSnapshotId = group.GroupSnapshotId })).GroupSnapshot.GroupSnapshotId);
        await Csi.DeleteVolumeGroupSnapshot(new DeleteVolumeGroupSnapshotRequest { GroupSnapshotId = group.GroupSnapshotId });
    }

    /// <summary>The snapshot-metadata sidecar calls the controller: each stream is relayed from
    /// the snapshot's node, message for message as the node itself sends it (whole 64 KiB chunks
    /// are written, so the delta is the same whether the journal or the chunk maps answer), and a
    /// delta between snapshots on two nodes is the INVALID_ARGUMENT of snapshots of two volumes.</summary>
    [Fact]
    public async Task Snapshot_metadata_streams_from_the_snapshot_s_node()
    {
        const int chunk = 64 << 10;
        var volume = await CreateOnAsync("node-b", "cbt");
        var node = Cluster.Node("node-b");
        var nbdSocket = Path.Combine(node.Workspace.DataDirectory, "nbd.sock");
        async Task WriteChunksAsync(params long[] chunks)
        {
            await using var device = await NbdBlockDevice.OpenAsync(nbdSocket, volume.VolumeId);
            foreach (var index in chunks)
            {
                await device.WriteAsync(index * chunk, Enumerable.Repeat((byte)(index + 1), chunk).ToArray(), fua: false);
            }
        }
        await WriteChunksAsync(0, 5, 6, 40);
        var first = await Csi.SnapshotAsync(volume.VolumeId, "cbt-base");
        await WriteChunksAsync(6, 7, 100);
        var second = await Csi.SnapshotAsync(volume.VolumeId, "cbt-target");
        var elsewhere = await Csi.SnapshotAsync((await CreateOnAsync("node-c", "cbt")).VolumeId, "cbt-elsewhere");

        var delta = new GetMetadataDeltaRequest { BaseSnapshotId = first.SnapshotId, TargetSnapshotId = second.SnapshotId, MaxResults = 1 };
        var relayed = await Csi.GetMetadataDelta(delta);
        var allocated = await Csi.GetMetadataAllocated(new GetMetadataAllocatedRequest { SnapshotId = second.SnapshotId });

        Assert.Equal(await node.Csi.GetMetadataDelta(delta), relayed);
        Assert.Equal([(6L * chunk, 2L * chunk), (100L * chunk, (long)chunk)], relayed.SelectMany(m => m.BlockMetadata).Select(b => (b.ByteOffset, b.SizeBytes)));
        Assert.Equal(await node.Csi.GetMetadataAllocated(new GetMetadataAllocatedRequest { SnapshotId = second.SnapshotId }), allocated);
        Assert.Equal([(0L, (long)chunk), (5L * chunk, 3L * chunk), (40L * chunk, (long)chunk), (100L * chunk, (long)chunk)],
            allocated.SelectMany(m => m.BlockMetadata).Select(b => (b.ByteOffset, b.SizeBytes)));
        var spread = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.GetMetadataDelta(
            new GetMetadataDeltaRequest { BaseSnapshotId = first.SnapshotId, TargetSnapshotId = elsewhere.SnapshotId }));
        Assert.Contains("node-b", spread.Message);
        Assert.Contains("node-c", spread.Message);
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.GetMetadataAllocated(new GetMetadataAllocatedRequest { SnapshotId = "gone_node-b" }));
    }

    [Fact]
    public async Task A_volume_group_lives_on_one_node_with_all_its_volumes()
    {
        var onC = await CreateOnAsync("node-c", "grouped");
        var alsoOnC = await CreateOnAsync("node-c", "grouped");
        var onA = await CreateOnAsync("node-a", "grouped");

        var spread = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Cluster.Addons.CreateVolumeGroup(new CreateVolumeGroupRequest
        {
            Name = Volumes.UniqueName("spread"),
            VolumeIds = { onC.VolumeId, onA.VolumeId },
        }));
        var group = (await Cluster.Addons.CreateVolumeGroup(new CreateVolumeGroupRequest { Name = Volumes.UniqueName("vg"), VolumeIds = { onC.VolumeId } })).VolumeGroup;
        await Cluster.Addons.ModifyVolumeGroupMembership(new ModifyVolumeGroupMembershipRequest { VolumeGroupId = group.VolumeGroupId, VolumeIds = { onC.VolumeId, alsoOnC.VolumeId } });
        var joining = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Cluster.Addons.ModifyVolumeGroupMembership(new ModifyVolumeGroupMembershipRequest
        {
            VolumeGroupId = group.VolumeGroupId,
            VolumeIds = { onC.VolumeId, onA.VolumeId },
        }));

        Assert.Contains("node-a", spread.Message);
        Assert.Contains("node-c", spread.Message);
        Assert.EndsWith("_node-c", group.VolumeGroupId);
        Assert.Contains("node-a", joining.Message);
        var members = (await Cluster.Addons.ControllerGetVolumeGroup(new ControllerGetVolumeGroupRequest { VolumeGroupId = group.VolumeGroupId })).VolumeGroup.Volumes;
        Assert.Equal(new[] { onC.VolumeId, alsoOnC.VolumeId }.Order(), members.Select(v => v.VolumeId).Order());
        Assert.Contains((await Cluster.Addons.ListVolumeGroups(new ListVolumeGroupsRequest())).Entries, e => e.VolumeGroup.VolumeGroupId == group.VolumeGroupId);
    }

    [Fact]
    public async Task Lists_cover_every_node_page_by_page()
    {
        var made = new[] { await CreateOnAsync("node-a", "listed"), await CreateOnAsync("node-b", "listed"), await CreateOnAsync("node-c", "listed") };

        var listed = await Csi.ListAllAsync(pageSize: 1);

        Assert.All(made, v => Assert.Contains(listed, e => e.Volume.VolumeId == v.VolumeId));
        Assert.Equal(listed.Count, listed.Select(e => e.Volume.VolumeId).Distinct().Count());
        Assert.Equal(listed.Select(e => e.Volume.VolumeId).Order(StringComparer.Ordinal), listed.Select(e => e.Volume.VolumeId));
    }

    [Fact]
    public async Task A_node_that_is_down_gets_unavailable_naming_it_while_the_others_are_served()
    {
        var onA = await CreateOnAsync("node-a", "down");
        var onB = await CreateOnAsync("node-b", "up");
        var nodeA = Cluster.Node("node-a");

        await TakeDownAsync(nodeA);
        try
        {
            // Started before the controller can know: it fails once node-a's registration lapses.
            var inFlight = Csi.ControllerGetVolume(onA.VolumeId);
            Assert.Equal(onB.VolumeId, (await Csi.ControllerGetVolume(onB.VolumeId)).Volume.VolumeId);
            await Csi.SnapshotAsync(onB.VolumeId);
            var unavailable = await RpcAssert.FailsAsync(StatusCode.Unavailable, () => inFlight);
            Assert.Contains("node-a", unavailable.Message);

            var later = await RpcAssert.FailsAsync(StatusCode.Unavailable, () => Csi.DeleteVolume(onA.VolumeId));
            Assert.Contains("node-a", later.Message);
            var listing = await RpcAssert.FailsAsync(StatusCode.Unavailable, () => Csi.ListVolumes(new ListVolumesRequest()));
            Assert.Contains("node-a", listing.Message);
            Assert.Equal("node-b", NodeOf(await CreateOnAsync("node-b", "meanwhile")));
            Assert.Equal(0, (await Csi.GetCapacity(new GetCapacityRequest { AccessibleTopology = Volumes.NodeTopology("node-a") })).AvailableCapacity);
        }
        finally
        {
            await BringBackAsync(nodeA);
        }
        Assert.Equal(onA.VolumeId, (await Csi.ControllerGetVolume(onA.VolumeId)).Volume.VolumeId);
    }

    [Fact]
    public async Task A_restarted_controller_routes_to_every_node_again()
    {
        var volumes = new[] { await CreateOnAsync("node-a", "before"), await CreateOnAsync("node-c", "before") };

        await Cluster.StopControllerAsync();
        await Cluster.StartControllerAsync();
        try
        {
            // Right after the start the nodes may not have renewed yet: such a call names its node.
            await Csi.ControllerGetVolume(volumes[0].VolumeId);
        }
        catch (RpcException e)
        {
            Assert.Equal(StatusCode.Unavailable, e.Status);
            Assert.Contains("node-a", e.Message);
        }
        foreach (var node in Cluster.Nodes)
        {
            await Cluster.WaitUntilRoutedAsync(node);
        }

        Assert.All(await Task.WhenAll(volumes.Select(v => Csi.ControllerGetVolume(v.VolumeId))), (r, i) => Assert.Equal(volumes[i].VolumeId, r.Volume.VolumeId));
        var listed = await Csi.ListAllAsync();
        Assert.All(volumes, v => Assert.Contains(listed, e => e.Volume.VolumeId == v.VolumeId));
    }

    [Fact]
    public async Task A_restarted_node_registers_again_with_its_volumes()
    {
        var volume = await CreateOnAsync("node-c", "restart", 3 * Volumes.GiB);
        var node = Cluster.Node("node-c");

        await node.CrashAsync();
        var down = await WaitForUnavailableAsync(volume.VolumeId);
        Assert.Contains("node-c", down.Message);
        await node.StartAsync();
        await Cluster.WaitUntilRoutedAsync(node);

        Assert.Equal(3 * Volumes.GiB, (await Csi.ControllerGetVolume(volume.VolumeId)).Volume.CapacityBytes);
    }

    /// <summary>Cuts the node's host off the network (a failed machine); where hosts cannot be
    /// cut off (no root), kills the node instead.</summary>
    private async Task TakeDownAsync(ClusterNode node)
    {
        if (node.Host.CanBeCutOff)
        {
            node.Host.CutOff();
        }
        else
        {
            await node.CrashAsync();
        }
    }

    private async Task BringBackAsync(ClusterNode node)
    {
        if (node.Host.CanBeCutOff)
        {
            node.Host.Reconnect();
        }
        else
        {
            await node.StartAsync();
        }
        await Cluster.WaitUntilRoutedAsync(node);
    }

    /// <summary>Calls for the volume until the controller says its node is down (bounded: the
    /// node timeout is seconds).</summary>
    private async Task<RpcException> WaitForUnavailableAsync(string volumeId)
    {
        var deadline = DateTime.UtcNow + LapseTimeout;
        while (true)
        {
            try
            {
                await Csi.ControllerGetVolume(volumeId);
            }
            catch (RpcException e) when (e.Status == StatusCode.Unavailable)
            {
                return e;
            }
            Assert.True(DateTime.UtcNow < deadline, $"volume {volumeId}'s node was still served {LapseTimeout.TotalSeconds} s after it went down");
            await Task.Delay(200);
        }
    }
}
