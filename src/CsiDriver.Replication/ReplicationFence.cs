namespace CsiDriver.Replication;

/// <summary>
/// Why a primary refuses writes although its record still says primary: another site took (or
/// is taking) the role at a newer epoch, or this site is being demoted. Recorded before the
/// volumes are made read-only, and re-applied at every start, so a fenced site never accepts a
/// write again until a demotion and a resync make it an ordinary backup.
/// </summary>
/// <param name="Epoch">The epoch that superseded this site's (a demotion in progress: its own).</param>
/// <param name="Reason">What writers and GetVolumeReplicationInfo are told.</param>
/// <param name="Demoting">True for a demotion in progress: the site's own decision, not another
/// site's takeover (reported as DEGRADED, not ERROR).</param>
public sealed record ReplicationFence(long Epoch, string Reason, bool Demoting = false);

/// <summary>What a promotion found of the old primary, reported while this site stays primary.</summary>
/// <param name="OldPrimaryFenced">The old primary answered Fence before this site accepted a write.</param>
/// <param name="LostRecords">Records the old primary had acknowledged and this site had not applied
/// when it took over (0: nothing lost); null when the old primary could not be asked.</param>
public sealed record PromotionOutcome(bool Forced, bool OldPrimaryFenced, long? LostRecords)
{
    public string Describe() => (OldPrimaryFenced, LostRecords) switch
    {
        (true, 0) => "the old primary was fenced and everything it acknowledged was applied first",
        (true, { } lost) => $"the old primary was fenced; {lost} records it acknowledged had not arrived and are lost",
        _ => "the old primary could not be reached: whatever it acknowledged after the last applied cut is lost (count unknown); it is fenced when it next makes contact",
    };
}
