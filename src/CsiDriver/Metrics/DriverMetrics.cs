using CsiDriver.Csi;
using CsiDriver.Engine;
using CsiDriver.Replication;

namespace CsiDriver.Metrics;

/// <summary>
/// What <c>--metrics-address</c> serves, read fresh at each scrape: whether the driver has
/// loaded; per replication its journal backlog, applied sequence, lag, ship and apply
/// throughput, state and health, epoch and fencing, and what a promotion lost; per engine journal its retention and sequences. An enum
/// (state, health) is one sample per possible value, 1 for the current one and 0 for the
/// others, so an alert can match a value without knowing the rest. Names carry their unit.
/// </summary>
public static class DriverMetrics
{
    private const string Prefix = "formation_";

    public static IEnumerable<MetricFamily> Collect(Driver driver)
    {
        yield return new MetricFamily(Prefix + "driver_ready", "1 once the driver has loaded its engine and state, 0 while it loads.", MetricType.Gauge,
            [MetricSample.Of(driver.IsReady ? 1 : 0)]);
        if (!driver.IsReady)
        {
            yield break;
        }
        foreach (var family in Replications(driver.Replication.All))
        {
            yield return family;
        }
        foreach (var family in Journals(driver.Engine))
        {
            yield return family;
        }
    }

    public static IEnumerable<MetricFamily> Replications(IReadOnlyList<ReplicationInfo> replications)
    {
        MetricFamily Gauge(string name, string help, Func<ReplicationInfo, double> value) =>
            new(Prefix + "replication_" + name, help, MetricType.Gauge,
                replications.Select(r => MetricSample.Of(value(r), ("replication", r.ReplicationId))).ToArray());

        return
        [
            Gauge("journal_outstanding_bytes", "Journal bytes written at the main site that the backup has not yet acknowledged.", r => r.JournalOutstandingBytes),
            Gauge("journal_outstanding_records", "Journal records written at the main site that the backup has not yet acknowledged.", r => r.JournalOutstandingRecords),
            Gauge("applied_sequence", "Main-site group sequence the backup has durably applied.", r => r.AppliedSequence),
            Gauge("lag_seconds", "Now minus the main-site time of the newest record the backup has applied; 0 when caught up.", r => r.Lag.TotalSeconds),
            Gauge("ship_bytes_per_second", "Bytes shipped to the backup per second, over the last few seconds.", r => r.ShipBytesPerSecond),
            Gauge("apply_bytes_per_second", "Bytes applied at the backup per second, over the last few seconds.", r => r.ApplyBytesPerSecond),
            Gauge("last_sync_timestamp_seconds", "Main-site time of the newest applied record, Unix seconds; 0 before the first.",
                r => r.LastSyncTime?.ToUnixTimeMilliseconds() / 1000.0 ?? 0),
            Gauge("last_sync_bytes", "Bytes of the newest acknowledged batch or resync.", r => r.LastSyncBytes),
            Gauge("resync_remaining_bytes", "Bytes the running resync still has to move; 0 when none runs.",
                r => r.Resync.Ready ? 0 : Math.Max(0, r.Resync.BytesTotal - r.Resync.BytesDone)),
            Gauge("epoch", "Epoch of the newest primary this site knows of (its own at a primary); every promotion takes the next one.", r => r.Epoch),
            Gauge("fenced", "1 while this primary refuses writes because another site took over (or it is being demoted); 0 otherwise.", r => r.Fence is null ? 0 : 1),
            new(Prefix + "replication_promotion_lost_records",
                "At a promoted primary: records the old primary had acknowledged that did not arrive before the takeover; absent when the old primary could not be asked.",
                MetricType.Gauge,
                replications.Where(r => r.Promotion?.LostRecords is not null)
                    .Select(r => MetricSample.Of(r.Promotion!.LostRecords!.Value, ("replication", r.ReplicationId))).ToArray()),
            OneHot("state", "The replication's state at this site (and its role): 1 for the current state.", replications,
                r => r.State.ToString(), Enum.GetNames<ReplicationState>()),
            OneHot("health", "Health as GetVolumeReplicationInfo reports it: 1 for the current one.", replications,
                r => r.Health.ToString(), Enum.GetNames<ReplicationHealth>()),
        ];
    }

    public static IEnumerable<MetricFamily> Journals(StorageEngine engine)
    {
        var journals = new List<JournalStatus>();
        foreach (var group in engine.Groups)
        {
            try
            {
                journals.Add(engine.GetJournalStatus(group));
            }
            catch (ArgumentException)
            {
                // Dropped between listing and reading (its last volume left or was deleted).
            }
        }

        MetricFamily Gauge(string name, string help, Func<JournalStatus, double> value) =>
            new(Prefix + "journal_" + name, help, MetricType.Gauge,
                journals.Select(j => MetricSample.Of(value(j), ("journal", j.Journal), ("consistency_group", j.ConsistencyGroup ?? ""))).ToArray());

        var consumers = journals.SelectMany(j => j.Consumers.Select(c => (Journal: j.Journal, Consumer: c))).ToList();
        MetricFamily ConsumerGauge(string name, string help, Func<JournalConsumer, double> value) =>
            new(Prefix + "journal_consumer_" + name, help, MetricType.Gauge,
                consumers.Select(c => MetricSample.Of(value(c.Consumer), ("journal", c.Journal), ("consumer", c.Consumer.Name))).ToArray());

        return
        [
            Gauge("retained_bytes", "Bytes of records the journal holds (for recovery and for its consumers).", j => j.RetainedBytes),
            Gauge("reserved_bytes", "Free space the journal has set aside to roll to its next segment (not reported as capacity).", j => j.ReservedBytes),
            Gauge("retention_budget_bytes", "Most bytes the journal may hold for its consumers before it releases records they still need.", j => j.RetentionBudgetBytes),
            Gauge("last_sequence", "Newest sequence the journal has assigned.", j => j.LastSequence),
            Gauge("durable_sequence", "Newest sequence that is durable on disk.", j => j.DurableSequence),
            Gauge("volumes", "Volumes writing to the journal.", j => j.VolumeIds.Count),
            ConsumerGauge("position", "Newest sequence the consumer has passed.", c => c.Position),
            ConsumerGauge("overrun", "1 when records the consumer had not passed were released: it must resync by changed chunks.", c => c.Overrun ? 1 : 0),
        ];
    }

    /// <summary>formation_replication_&lt;label&gt;{replication, role, &lt;label&gt;=value}: one sample per value.</summary>
    private static MetricFamily OneHot(string label, string help, IReadOnlyList<ReplicationInfo> replications,
        Func<ReplicationInfo, string> current, string[] values) =>
        new(Prefix + "replication_" + label, help, MetricType.Gauge,
            replications.SelectMany(r => values.Select(v => MetricSample.Of(v == current(r) ? 1 : 0,
                ("replication", r.ReplicationId), ("role", r.Role.ToString().ToLowerInvariant()), (label, v.ToLowerInvariant())))).ToArray());
}
