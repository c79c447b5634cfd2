using CsiDriver.TestSupport.Tls;

namespace CsiDriver.Demo;

/// <summary>
/// A throwaway certificate authority for the demo's site link and one certificate per site,
/// written as PEM files under the output directory. Each site's certificate serves both ends of
/// mutual TLS (server and client authentication) for the loopback names it is reached by.
/// </summary>
public static class DemoCertificates
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromDays(7);

    /// <summary>Writes ca.pem and, per site, &lt;site&gt;.pem and &lt;site&gt;-key.pem (owner-only);
    /// returns the files per site name.</summary>
    public static IReadOnlyDictionary<string, (string Certificate, string Key, string Authority)> Create(string directory, IEnumerable<string> sites)
    {
        Directory.CreateDirectory(directory);
        using var authority = new CertificateAuthority("Formation demo CA", Lifetime);
        var authorityFile = Path.Combine(directory, "ca.pem");
        File.WriteAllText(authorityFile, authority.CertificatePem);

        var files = new Dictionary<string, (string, string, string)>(StringComparer.Ordinal);
        foreach (var site in sites)
        {
            using var issued = authority.Issue($"formation-{site}", CertificateUse.ServerAndClient);
            var certificateFile = Path.Combine(directory, site + ".pem");
            var keyFile = Path.Combine(directory, site + "-key.pem");
            issued.WritePemFiles(certificateFile, keyFile);
            files[site] = (certificateFile, keyFile, authorityFile);
        }
        return files;
    }
}
