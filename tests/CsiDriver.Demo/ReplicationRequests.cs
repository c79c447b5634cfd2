using CsiAddons.Replication;

namespace CsiDriver.Demo;

/// <summary>
/// The csi-addons replication requests the demo sends, as the csi-addons operator would from a
/// VolumeReplicationClass (parameters peerAddress, mode, journalBudget) for a volume group.
/// </summary>
public static class ReplicationRequests
{
    public const string GroupMode = "group";
    public const string PerVolumeMode = "per-volume";
    public const string JournalBudget = "512Mi";

    /// <summary>Secret keys of the link's TLS material, as a Kubernetes TLS secret names them.</summary>
    public const string CertificateSecret = "tls.crt";
    public const string KeySecret = "tls.key";
    public const string AuthoritySecret = "ca.crt";

    public static ReplicationSource GroupSource(string groupId) =>
        new() { Volumegroup = new ReplicationSource.Types.VolumeGroupSource { VolumeGroupId = groupId } };

    /// <summary>The enable request, with the main site's link certificate, key and CA passed as
    /// the secrets of the VolumeReplicationClass (PEM), as the csi-addons operator passes them.</summary>
    public static EnableVolumeReplicationRequest Enable(string groupId, string peerAddress, string mode, SiteLinkSettings tls) => new()
    {
        ReplicationSource = GroupSource(groupId),
        Parameters =
        {
            ["peerAddress"] = peerAddress,
            ["mode"] = mode,
            ["journalBudget"] = JournalBudget,
        },
        Secrets =
        {
            [CertificateSecret] = File.ReadAllText(tls.CertificateFile),
            [KeySecret] = File.ReadAllText(tls.KeyFile),
            [AuthoritySecret] = File.ReadAllText(tls.AuthorityFile),
        },
    };

    public static PromoteVolumeRequest ForcePromote(string groupId) => new()
    {
        ReplicationSource = GroupSource(groupId),
        Force = true,
    };

    public static GetVolumeReplicationInfoRequest Info(string groupId) => new() { ReplicationSource = GroupSource(groupId) };
}
