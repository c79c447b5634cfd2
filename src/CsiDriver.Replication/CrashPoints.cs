using System.Diagnostics;

namespace CsiDriver.Replication;

/// <summary>
/// The steps of a role change between two durable effects, by name, where the crash tests kill
/// the process: with FORMATION_CRASH_AT set to a step's name the process SIGKILLs itself on
/// reaching it, as a power cut or an OOM kill would stop it there. Unset (always, outside those
/// tests) nothing happens. The tests then restart the site and check that the recorded role,
/// not the step it died in, decides what it accepts (ReplicationManager.Fencing.cs).
/// </summary>
internal static class CrashPoints
{
    /// <summary>A fence (Fence, a newer epoch heard, a demotion) is recorded; the volumes still take writes.</summary>
    public const string FenceRecorded = "fence-recorded";

    /// <summary>A promotion fenced the old primary and waited for its writes; this site is still a secondary.</summary>
    public const string PeerFenced = "promote-peer-fenced";

    /// <summary>A promotion recorded the new role and epoch; the volumes are still read-only.</summary>
    public const string PromotionRecorded = "promote-recorded";

    /// <summary>A demotion made the volumes read-only and drained; the record still says primary.</summary>
    public const string DemotionDrained = "demote-drained";

    private static readonly string? Armed = Environment.GetEnvironmentVariable("FORMATION_CRASH_AT");

    public static void Reach(string step)
    {
        if (Armed == step)
        {
            Process.GetCurrentProcess().Kill();
        }
    }
}
