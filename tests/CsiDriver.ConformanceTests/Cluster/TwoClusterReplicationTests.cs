using Csi.V1;
using CsiAddons.Replication;
using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.ConformanceTests.Replication;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests.Cluster;

/// <summary>
/// Replication between two clusters, each a controller and two nodes on hosts of their own: a
/// volume group on a node of cluster A is replicated to cluster B by naming B's controller as the
/// peer. B's controller chooses the receiving node (the one with the most room) and the stream
/// goes there directly; the replicas take that node's ids, which GetReplicationDestinationInfo
/// at A reports as a complete map. After a planned failover (A demoted, B promoted) the replicas
/// are staged on B's node through kubelet's calls and hold what A's pod wrote.
/// </summary>
public sealed class TwoClusterReplicationTests(TwoClustersFixture fixture) : IClassFixture<TwoClustersFixture>
{
    private static readonly TimeSpan ReplicationTimeout = TimeSpan.FromSeconds(60);

    private TestCluster A => fixture.A;

    private TestCluster B => fixture.B;

    [Fact]
    public async Task A_volume_group_replicated_to_the_other_cluster_is_promoted_and_staged_on_the_node_it_chose()
    {
        // At A: a service's two volumes on one node, written through that node's data path.
        var a1 = A.Node("a1");
        var sales = await CreateOnAsync(A, "a1", "sales");
        var stock = await CreateOnAsync(A, "a1", "stock");
        var written = new Dictionary<string, Dictionary<string, byte[]>>
        {
            [sales.VolumeId] = new() { ["orders.db"] = FileTrees.RandomBytes(300_000, 1) },
            [stock.VolumeId] = new() { ["items/left.db"] = FileTrees.RandomBytes(200_000, 2) },
        };
        foreach (var (volumeId, files) in written)
        {
            await WriteThroughNodeAsync(a1, volumeId, files);
        }
        var group = (await A.Addons.CreateVolumeGroup(new CreateVolumeGroupRequest
        {
            Name = Volumes.UniqueName("service"),
            VolumeIds = { sales.VolumeId, stock.VolumeId },
        })).VolumeGroup;

        // Replicated to B by naming B's controller; B's controller picks b2 (most room).
        await A.Addons.EnableGroupReplicationAsync(group.VolumeGroupId, new GroupReplication.ReplicationClass(B.SiteLinkAddress));
        await A.Addons.WaitForReplicationAsync(group.VolumeGroupId,
            info => info.Status == GetVolumeReplicationInfoResponse.Types.Status.Healthy && info.LastSyncTime is not null,
            "healthy and synced", ReplicationTimeout);
        var destination = (await DestinationAsync(A, group.VolumeGroupId)).Volumegroup;

        Assert.Equal(Rebased(group.VolumeGroupId, "b2"), destination.VolumeGroupId);
        Assert.Equal(new Dictionary<string, string>
        {
            [sales.VolumeId] = Rebased(sales.VolumeId, "b2"),
            [stock.VolumeId] = Rebased(stock.VolumeId, "b2"),
        }, destination.VolumeIds);
        // At B the replicas are b2's volumes, routed there by B's controller, and B maps them back.
        var b2 = B.Node("b2");
        foreach (var replica in destination.VolumeIds.Values)
        {
            Assert.Equal([Volumes.NodeTopology("b2")], (await B.Csi.ControllerGetVolume(replica)).Volume.AccessibleTopology);
        }
        var back = (await DestinationAsync(B, destination.VolumeGroupId)).Volumegroup;
        Assert.Equal(group.VolumeGroupId, back.VolumeGroupId);
        Assert.Equal(destination.VolumeIds.ToDictionary(p => p.Value, p => p.Key), back.VolumeIds);

        // Planned failover: A hands over (its journal drained), B takes the role without force.
        await A.Addons.DemoteGroupAsync(group.VolumeGroupId);
        await B.Addons.PromoteGroupAsync(destination.VolumeGroupId, force: false);

        // The replicas, staged and published on b2 as kubelet would, hold what A's pod wrote.
        foreach (var (volumeId, files) in written)
        {
            var replica = destination.VolumeIds[volumeId];
            await b2.Csi.StageAsync(b2.Workspace, replica, Volumes.Mount());
            try
            {
                await b2.Csi.PublishOnNodeAsync(b2.Workspace, replica, Volumes.Mount());
                FileTrees.AssertHolds(files, NodeSteps.TargetPath(b2.Workspace, replica), $"replica {replica} of {volumeId} at b2");
            }
            finally
            {
                await b2.Csi.CleanUpAsync(b2.Workspace, replica);
            }
        }
    }

    [Fact]
    public async Task Destination_info_is_refused_for_what_is_not_replicated_and_unknown_sources()
    {
        var volume = await CreateOnAsync(A, "a2", "lonely");

        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => DestinationOfVolumeAsync(A, volume.VolumeId));
        var missing = await RpcAssert.FailsAsync(StatusCode.NotFound, () => DestinationOfVolumeAsync(A, $"vol-{new string('0', 20)}_a2"));
        Assert.Contains("does not exist", missing.Message);
        var down = await RpcAssert.FailsAsync(StatusCode.Unavailable, () => DestinationOfVolumeAsync(A, $"vol-{new string('0', 20)}_gone"));
        Assert.Contains("gone", down.Message);
    }

    private static string Rebased(string id, string owner) => id[..id.IndexOf('_')] + "_" + owner;

    private static async Task<Volume> CreateOnAsync(TestCluster cluster, string node, string purpose)
    {
        var request = Volumes.Request(Volumes.UniqueName(purpose), requiredBytes: 256 * Volumes.MiB);
        request.AccessibilityRequirements = new TopologyRequirement { Requisite = { Volumes.NodeTopology(node) } };
        return (await cluster.Csi.CreateVolume(request)).Volume;
    }

    /// <summary>Stages and publishes the volume on its node, writes the files as a pod would,
    /// then unpublishes and unstages (which writes the file system back to the engine).</summary>
    private static async Task WriteThroughNodeAsync(ClusterNode node, string volumeId, IReadOnlyDictionary<string, byte[]> files)
    {
        await node.Csi.StageAsync(node.Workspace, volumeId, Volumes.Mount());
        try
        {
            await node.Csi.PublishOnNodeAsync(node.Workspace, volumeId, Volumes.Mount());
            FileTrees.Write(NodeSteps.TargetPath(node.Workspace, volumeId), files);
        }
        finally
        {
            await node.Csi.UnpublishOnNodeAsync(node.Workspace, volumeId);
            await node.Csi.UnstageAsync(node.Workspace, volumeId);
        }
    }

    private static async Task<ReplicationDestination> DestinationAsync(TestCluster cluster, string groupId) =>
        (await cluster.Addons.Replication<GetReplicationDestinationInfoRequest, GetReplicationDestinationInfoResponse>("GetReplicationDestinationInfo",
            new GetReplicationDestinationInfoRequest { ReplicationSource = ReplicationCalls.OfGroup(groupId) })).ReplicationDestination;

    private static Task<GetReplicationDestinationInfoResponse> DestinationOfVolumeAsync(TestCluster cluster, string volumeId) =>
        cluster.Addons.Replication<GetReplicationDestinationInfoRequest, GetReplicationDestinationInfoResponse>("GetReplicationDestinationInfo",
            new GetReplicationDestinationInfoRequest { ReplicationSource = ReplicationCalls.OfVolume(volumeId) });
}

/// <summary>Clusters A and B, each a controller and two nodes, on one network (every host reaches
/// every other, as two sites joined by a WAN), sharing one CA for both links.</summary>
public sealed class TwoClustersFixture : IAsyncLifetime
{
    private readonly TestNetwork _network = new();
    private readonly TestCertificates _pki = TestCertificates.Create();

    public TestCluster A { get; private set; } = null!;

    public TestCluster B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        A = new TestCluster("ca", _network, _pki, servesSiteLink: true);
        B = new TestCluster("cb", _network, _pki, servesSiteLink: true);
        await A.StartControllerAsync();
        await B.StartControllerAsync();
        await A.AddNodeAsync("a1", "20Gi");
        await A.AddNodeAsync("a2", "10Gi");
        await B.AddNodeAsync("b1", "10Gi");
        await B.AddNodeAsync("b2", "20Gi");
    }

    public async Task DisposeAsync()
    {
        try
        {
            await A.DisposeAsync();
            await B.DisposeAsync();
        }
        finally
        {
            _network.Dispose();
            _pki.Dispose();
        }
    }
}
