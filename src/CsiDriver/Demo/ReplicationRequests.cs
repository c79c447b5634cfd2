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

    /// <summary>Whether this build's `csidriver serve` has the site link (the flags the demo
    /// starts the sites with); without it the replication steps are skipped, saying so.</summary>
    public static bool SiteLinkAvailable { get; } =
        Cli.ServeCommand.Build().Options.Any(o => o.Name == "--site-link-address");

    public static ReplicationSource GroupSource(string groupId) =>
        new() { Volumegroup = new ReplicationSource.Types.VolumeGroupSource { VolumeGroupId = groupId } };

    public static EnableVolumeReplicationRequest Enable(string groupId, string peerAddress, string mode) => new()
    {
        ReplicationSource = GroupSource(groupId),
        Parameters =
        {
            ["peerAddress"] = peerAddress,
            ["mode"] = mode,
            ["journalBudget"] = JournalBudget,
        },
    };

    public static PromoteVolumeRequest ForcePromote(string groupId) => new()
    {
        ReplicationSource = GroupSource(groupId),
        Force = true,
    };

    public static GetVolumeReplicationInfoRequest Info(string groupId) => new() { ReplicationSource = GroupSource(groupId) };
}
