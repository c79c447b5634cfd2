using CsiDriver.Engine;
using CsiDriver.Replication;

namespace CsiDriver.Replication.Tests;

/// <summary>How a shipper's session picks its resync: here the delta resync after the journal
/// released records the backup had not applied (retention budget exceeded).</summary>
public sealed class ShipperSessionTests : IAsyncLifetime
{
    private readonly SiteLinkCertificates _certificates = new();
    private TestSite _main = null!;
    private TestSite _backup = null!;

    public async Task InitializeAsync()
    {
        // A tiny journal budget and segments, and checkpoints only when the test takes them.
        _main = new TestSite("main", _certificates.Main, engineOptions: new EngineOptions
        {
            SegmentBytes = 256 << 10,
            RetentionBudgetBytes = 512 << 10,
            BackgroundCheckpoints = false,
        });
        _backup = new TestSite("backup", _certificates.Backup);
        await _main.StartLinkAsync();
        await _backup.StartLinkAsync();
    }

    public async Task DisposeAsync()
    {
        await _main.DisposeAsync();
        await _backup.DisposeAsync();
        _certificates.Dispose();
    }

    [Fact]
    public async Task An_overrun_journal_is_caught_up_by_a_delta_resync_of_exactly_the_chunks_written_meanwhile()
    {
        var volume = _main.Engine.CreateVolume("solo", Volumes.Size);
        for (var block = 0; block < 64; block++)
        {
            await volume.WriteAsync(block * 4096L, Volumes.Block(block), fua: false);
        }
        await _main.Manager.EnableAsync(new ReplicationSpec("solo", ["solo"], null, _backup.Address), default);
        await CaughtUpAsync();
        Assert.Equal(4, _main.Manager.GetInfo("solo").LastResyncChunks);

        await _backup.StopLinkAsync();
        await WriteOutageAsync(volume);
        await Volumes.WaitUntilAsync(() => _main.Manager.GetInfo("solo").HealthMessage.Contains("budget exceeded", StringComparison.Ordinal), "the overrun to show");
        Assert.True(_main.Engine.GetJournalStatus(volume.Group).Consumers.Single().Overrun);

        await _backup.StartLinkAsync();
        await CaughtUpAsync();
        Assert.Equal(32, _main.Manager.GetInfo("solo").LastResyncChunks);
        Assert.False(_main.Engine.GetJournalStatus(volume.Group).Consumers.Single().Overrun);
        var expected = await Volumes.ReadAllAsync(volume);
        var replica = await Volumes.ReadAllAsync(_backup.Engine.GetVolume("solo"));
        Assert.True(expected.AsSpan().SequenceEqual(replica), "the replica differs from the source");
    }

    [Fact]
    public async Task A_backup_behind_records_released_while_nobody_tracked_them_gets_a_full_resync()
    {
        var volume = _main.Engine.CreateVolume("solo", Volumes.Size);
        await volume.WriteAsync(0, Volumes.Block(1), fua: false);
        var spec = new ReplicationSpec("solo", ["solo"], null, _backup.Address);
        await _main.Manager.EnableAsync(spec, default);
        await CaughtUpAsync();
        await _main.Manager.DisableAsync("solo", default);

        // Untracked: no consumer holds these records, so the journal lets them go at will.
        await WriteOutageAsync(volume);
        Assert.True(_main.Engine.GetJournalStatus(volume.Group).FirstSequence > 2);

        await _main.Manager.EnableAsync(spec, default);
        await CaughtUpAsync();
        Assert.Equal(33, _main.Manager.GetInfo("solo").LastResyncChunks);
        var expected = await Volumes.ReadAllAsync(volume);
        var replica = await Volumes.ReadAllAsync(_backup.Engine.GetVolume("solo"));
        Assert.True(expected.AsSpan().SequenceEqual(replica), "the replica differs from the source");
    }

    /// <summary>A chunk the backup holds but the main's image no longer does (trimmed whole while
    /// nothing tracked the journal, and no older layer at the main held it) must read as zeroes
    /// after the full resync too, as it does at the main.</summary>
    [Fact]
    public async Task A_full_resync_leaves_no_data_in_a_chunk_the_main_does_not_hold()
    {
        const long Trimmed = 5L * ChunkRange.ChunkSize;
        var volume = _main.Engine.CreateVolume("solo", Volumes.Size);
        await volume.WriteAsync(0, Volumes.Block(1), fua: false);
        var spec = new ReplicationSpec("solo", ["solo"], null, _backup.Address);
        await _main.Manager.EnableAsync(spec, default);
        await CaughtUpAsync();
        await volume.WriteAsync(Trimmed, Enumerable.Range(0, ChunkRange.ChunkSize / 4096).SelectMany(Volumes.Block).ToArray(), fua: true); // in the top only: after the resync's snapshot
        await CaughtUpAsync();
        await _main.Manager.DisableAsync("solo", default);

        await volume.TrimAsync(Trimmed, ChunkRange.ChunkSize);
        await WriteOutageAsync(volume);
        await _main.Manager.EnableAsync(spec, default);
        await CaughtUpAsync();
        var expected = await Volumes.ReadAllAsync(volume);
        var replica = await Volumes.ReadAllAsync(_backup.Engine.GetVolume("solo"));
        Assert.True(expected.AsSpan((int)Trimmed, ChunkRange.ChunkSize).SequenceEqual(replica.AsSpan((int)Trimmed, ChunkRange.ChunkSize)), "the trimmed chunk differs at the backup");
        Assert.True(expected.AsSpan().SequenceEqual(replica), "the replica differs from the source");
    }

    [Fact]
    public async Task Batches_ship_from_a_thread_of_their_own_ranked_above_the_writers()
    {
        var volume = _main.Engine.CreateVolume("solo", Volumes.Size);
        await _main.Manager.EnableAsync(new ReplicationSpec("solo", ["solo"], null, _backup.Address), default);
        await CaughtUpAsync();
        await volume.WriteAsync(0, Volumes.Block(1), fua: true);
        await CaughtUpAsync();

        // Other classes' sites may ship in this process meanwhile: every shipping thread counts.
        var shipping = Directory.GetDirectories("/proc/self/task")
            .Where(task => File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') == "journal-shipper")
            .Select(NiceOf)
            .ToList();
        Assert.NotEmpty(shipping);
        Assert.All(shipping, nice => Assert.Equal(ShippingThread.Nice, nice));
        Assert.True(NiceOf("/proc/thread-self") > ShippingThread.Nice, "the writers' rank (this test thread wrote) should be below the shipper's");
    }

    /// <summary>The nice value of the thread at /proc/…/task/tid: stat's 19th field, counted
    /// after the parenthesised name (which may hold spaces).</summary>
    private static int NiceOf(string task)
    {
        var stat = File.ReadAllText(Path.Combine(task, "stat"));
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>2 MiB into chunks 10..41 (32 chunks), twice, with checkpoints: four times the budget.</summary>
    private async Task WriteOutageAsync(Volume volume)
    {
        for (var round = 0; round < 2; round++)
        {
            for (var block = 160; block < 672; block++)
            {
                await volume.WriteAsync(block * 4096L, Volumes.Block(block * 10 + round), fua: false);
            }
            await volume.FlushAsync();
            _main.Engine.Checkpoint();
        }
    }

    private Task CaughtUpAsync()
    {
        var journal = _main.Engine.GetVolume("solo").Group;
        var last = _main.Engine.GetJournalStatus(journal).LastSequence;
        return Volumes.WaitUntilAsync(() =>
        {
            var info = _main.Manager.GetInfo("solo");
            return info.AppliedSequence >= last && info.State == ReplicationState.Replicating;
        }, $"the backup to apply through {last}");
    }
}
