namespace CsiDriver.Replication.Tests;

/// <summary>Tests that talk to one backup site's link as a peer would: the site, its link
/// served over mutual TLS, and the certificates of both sites (and of an intruder).</summary>
public abstract class BackupSiteTests : IAsyncLifetime
{
    internal SiteLinkCertificates Certificates { get; } = new();

    internal TestSite Backup { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Backup = new TestSite("backup", Certificates.Backup);
        await Backup.StartLinkAsync();
    }

    public async Task DisposeAsync()
    {
        await Backup.DisposeAsync();
        Certificates.Dispose();
    }
}
