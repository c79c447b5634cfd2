using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.ConformanceTests.Cluster;

/// <summary>
/// One controller and three nodes, each on its own simulated host, shared by the cluster tests
/// (processes are the slow part; each test makes its own volumes). The nodes' capacities differ,
/// so placement by free capacity has a clear answer. A test that takes a node or the controller
/// down brings it back before it ends.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    private readonly TestNetwork _network = new();
    private readonly TestCertificates _pki = TestCertificates.Create();

    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = new TestCluster("cl", _network, _pki);
        await Cluster.StartControllerAsync();
        await Cluster.AddNodeAsync("node-a", "10Gi");
        await Cluster.AddNodeAsync("node-b", "20Gi");
        await Cluster.AddNodeAsync("node-c", "30Gi");
    }

    public async Task DisposeAsync()
    {
        try
        {
            await Cluster.DisposeAsync();
        }
        finally
        {
            _network.Dispose();
            _pki.Dispose();
        }
    }
}
