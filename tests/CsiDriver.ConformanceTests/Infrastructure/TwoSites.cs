namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>
/// A main site and a backup site, two real `csidriver serve` processes on loopback, whose site
/// links authenticate each other with certificates from one test CA. The main site reaches the
/// backup's site link only through <see cref="Link"/>, a <see cref="FaultyLink"/> the test
/// injects delay, jitter and cuts into; after a failover the backup reaches the old main through
/// <see cref="ReverseLink"/>. Disposal kills both processes and removes every file.
/// </summary>
public sealed class TwoSites : IAsyncDisposable
{
    private TwoSites(TestCertificates certificates, SitePlacement? main, SitePlacement? backup)
    {
        Certificates = certificates;
        Main = new ReplicationSite("main", certificates.Site("main"), main);
        Backup = new ReplicationSite("backup", certificates.Site("backup"), backup);
        Link = FaultyLink.Start(Backup.SiteLinkAddress);
        ReverseLink = FaultyLink.Start(Main.SiteLinkAddress);
        if (main is null && backup is null)
        {
            // On loopback the backup reaches the main through the proxy; placed sites keep their own addresses.
            Main.AdvertisedAddress = ReverseLink.Address;
        }
    }

    public TestCertificates Certificates { get; }

    public ReplicationSite Main { get; }

    public ReplicationSite Backup { get; }

    /// <summary>main → backup: the peer address the main site replicates to.</summary>
    public FaultyLink Link { get; }

    /// <summary>backup → main: the address the main site advertises, so the backup's GetRole and
    /// Fence calls and its shipping back after a failover pass here.</summary>
    public FaultyLink ReverseLink { get; }

    /// <param name="main">Where the main site runs; null: loopback, every CPU.</param>
    /// <param name="backup">Where the backup site runs; null: loopback, every CPU.</param>
    public static async Task<TwoSites> StartAsync(SitePlacement? main = null, SitePlacement? backup = null)
    {
        var sites = new TwoSites(TestCertificates.Create(), main, backup);
        try
        {
            await Task.WhenAll(sites.Main.StartAsync(), sites.Backup.StartAsync());
            return sites;
        }
        catch
        {
            await sites.DisposeAsync();
            throw;
        }
    }

    /// <summary>Both processes' output, for a failure message.</summary>
    public string Output() => $"--- main ---\n{Main.OutputText}\n--- backup ---\n{Backup.OutputText}";

    /// <summary>Makes a call whose failure needs the sites' logs to be understood (an exception in
    /// a handler reaches the caller only as "Exception was thrown by handler").</summary>
    public async Task<T> ExplainFailureAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (CsiDriver.Rpc.RpcException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Status}: {e.Message}\n{Output()}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Link.DisposeAsync();
        await ReverseLink.DisposeAsync();
        await Main.DisposeAsync();
        await Backup.DisposeAsync();
        Certificates.Dispose();
    }
}
