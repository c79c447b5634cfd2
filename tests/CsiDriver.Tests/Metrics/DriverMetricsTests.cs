using CsiDriver.Engine;
using CsiDriver.Metrics;
using CsiDriver.Replication;

namespace CsiDriver.Tests.Metrics;

public sealed class DriverMetricsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("formation-metrics-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static ReplicationInfo Info(string id, ReplicationRole role, ReplicationState state, ReplicationHealth health,
        ReplicationFence? fence = null, PromotionOutcome? promotion = null) => new(
        id, role, state, ReplicationModeKind.Group, ["vol-a", "vol-b"], "127.0.0.1:7400",
        AppliedSequence: 4242,
        LastSyncTime: DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_500),
        LastSyncDuration: TimeSpan.FromMilliseconds(3),
        LastSyncBytes: 65536,
        Lag: TimeSpan.FromMilliseconds(1500),
        health, "link down",
        JournalOutstandingBytes: 1 << 20,
        JournalOutstandingRecords: 17,
        ShipBytesPerSecond: 2.5e6,
        ApplyBytesPerSecond: 0,
        Resync: new ResyncProgress(false, 3, 10, 300, 1000),
        LastResyncChunks: 0,
        BacklogPlannedThrough: 0,
        Epoch: 3,
        Fence: fence,
        Promotion: promotion);

    private static string[] Samples(string text, string family) =>
        text.Split('\n').Where(l => l.StartsWith(family + "{", StringComparison.Ordinal) || l.StartsWith(family + " ", StringComparison.Ordinal)).ToArray();

    [Fact]
    public void Each_replication_shows_its_epoch_its_fencing_and_what_a_promotion_lost()
    {
        var text = PrometheusText.Render(DriverMetrics.Replications(
        [
            Info("vg-fenced", ReplicationRole.Primary, ReplicationState.Connecting, ReplicationHealth.Error, fence: new ReplicationFence(4, "site 'b' took over")),
            Info("vg-promoted", ReplicationRole.Primary, ReplicationState.Replicating, ReplicationHealth.Healthy, promotion: new PromotionOutcome(true, true, 12)),
            Info("vg-unknown", ReplicationRole.Primary, ReplicationState.Replicating, ReplicationHealth.Healthy, promotion: new PromotionOutcome(true, false, null)),
        ]));

        Assert.Equal(["formation_replication_epoch{replication=\"vg-fenced\"} 3", "formation_replication_epoch{replication=\"vg-promoted\"} 3", "formation_replication_epoch{replication=\"vg-unknown\"} 3"],
            Samples(text, "formation_replication_epoch"));
        Assert.Equal(["formation_replication_fenced{replication=\"vg-fenced\"} 1", "formation_replication_fenced{replication=\"vg-promoted\"} 0", "formation_replication_fenced{replication=\"vg-unknown\"} 0"],
            Samples(text, "formation_replication_fenced"));
        // Unknown (the old primary could not be asked) is no sample at all, not a made-up 0.
        Assert.Equal(["formation_replication_promotion_lost_records{replication=\"vg-promoted\"} 12"], Samples(text, "formation_replication_promotion_lost_records"));
    }

    [Fact]
    public void Each_replication_has_its_backlog_position_lag_and_throughput()
    {
        var text = PrometheusText.Render(DriverMetrics.Replications(
            [Info("vg-orders", ReplicationRole.Primary, ReplicationState.Connecting, ReplicationHealth.Degraded)]));

        Assert.Equal(["formation_replication_journal_outstanding_bytes{replication=\"vg-orders\"} 1048576"], Samples(text, "formation_replication_journal_outstanding_bytes"));
        Assert.Equal(["formation_replication_journal_outstanding_records{replication=\"vg-orders\"} 17"], Samples(text, "formation_replication_journal_outstanding_records"));
        Assert.Equal(["formation_replication_applied_sequence{replication=\"vg-orders\"} 4242"], Samples(text, "formation_replication_applied_sequence"));
        Assert.Equal(["formation_replication_lag_seconds{replication=\"vg-orders\"} 1.5"], Samples(text, "formation_replication_lag_seconds"));
        Assert.Equal(["formation_replication_ship_bytes_per_second{replication=\"vg-orders\"} 2500000"], Samples(text, "formation_replication_ship_bytes_per_second"));
        Assert.Equal(["formation_replication_apply_bytes_per_second{replication=\"vg-orders\"} 0"], Samples(text, "formation_replication_apply_bytes_per_second"));
        Assert.Equal(["formation_replication_last_sync_timestamp_seconds{replication=\"vg-orders\"} 1790000000.5"], Samples(text, "formation_replication_last_sync_timestamp_seconds"));
        Assert.Equal(["formation_replication_resync_remaining_bytes{replication=\"vg-orders\"} 700"], Samples(text, "formation_replication_resync_remaining_bytes"));
    }

    [Fact]
    public void State_and_health_are_one_sample_per_value_with_the_current_one_set()
    {
        var text = PrometheusText.Render(DriverMetrics.Replications(
        [
            Info("vg-a", ReplicationRole.Primary, ReplicationState.Replicating, ReplicationHealth.Healthy),
            Info("vg-b", ReplicationRole.Secondary, ReplicationState.Demoted, ReplicationHealth.Degraded),
        ]));

        var states = Samples(text, "formation_replication_state");
        Assert.Equal(2 * Enum.GetValues<ReplicationState>().Length, states.Length);
        Assert.Equal(
            ["formation_replication_state{replication=\"vg-a\",role=\"primary\",state=\"replicating\"} 1",
             "formation_replication_state{replication=\"vg-b\",role=\"secondary\",state=\"demoted\"} 1"],
            states.Where(s => s.EndsWith(" 1", StringComparison.Ordinal)));
        var health = Samples(text, "formation_replication_health").Where(s => s.EndsWith(" 1", StringComparison.Ordinal));
        Assert.Equal(
            ["formation_replication_health{replication=\"vg-a\",role=\"primary\",health=\"healthy\"} 1",
             "formation_replication_health{replication=\"vg-b\",role=\"secondary\",health=\"degraded\"} 1"],
            health);
    }

    [Fact]
    public void No_replication_still_gives_every_family_with_its_help_and_type()
    {
        var text = PrometheusText.Render(DriverMetrics.Replications([]));

        Assert.Contains("# TYPE formation_replication_lag_seconds gauge\n", text);
        Assert.DoesNotContain("{", text);
    }

    [Fact]
    public void Engine_journals_report_their_retention_and_sequences()
    {
        using var engine = StorageEngine.Open(_directory);
        var orders = engine.CreateVolume("vol-a", 1 << 20, "cg-orders").Group;
        engine.CreateVolume("vol-b", 1 << 20, "cg-orders");
        engine.CreateVolume("vol-c", 1 << 20);
        engine.RegisterJournalConsumer(orders, "replication");

        var text = PrometheusText.Render(DriverMetrics.Journals(engine));

        Assert.Single(Samples(text, "formation_journal_volumes"), s => s == "formation_journal_volumes{journal=\"cg-orders\",consistency_group=\"cg-orders\"} 2");
        Assert.Equal(2, Samples(text, "formation_journal_retained_bytes").Length);
        Assert.Contains(Samples(text, "formation_journal_volumes"), s => s.Contains("consistency_group=\"\"", StringComparison.Ordinal) && s.EndsWith(" 1", StringComparison.Ordinal));
        Assert.Equal(["formation_journal_consumer_overrun{journal=\"cg-orders\",consumer=\"replication\"} 0"], Samples(text, "formation_journal_consumer_overrun"));
        Assert.Single(Samples(text, "formation_journal_retention_budget_bytes"), s => s.StartsWith("formation_journal_retention_budget_bytes{journal=\"cg-orders\"", StringComparison.Ordinal));
    }
}
