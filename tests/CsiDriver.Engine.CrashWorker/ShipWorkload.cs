using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using CsiDriver.Engine.Journal;
using CsiDriver.Replication;

namespace CsiDriver.Engine.CrashWorker;

/// <summary>
/// The main site of the power-cut shipping test, run in the child process the test's power cut
/// takes down: a writer appends to one volume's journal without ever flushing while the
/// replication's <see cref="JournalBatcher"/> cuts that journal into batches, as the shipper
/// does. Every record of every batch is printed (<see cref="Line"/>) before the next batch is
/// asked for: what a backup would have received. At a moment the seed picks (0.2 to 1.7 s after
/// the first batch) the shipping stops while the writer goes on, and once the journal holds a
/// record past its durable end the writer stops too and the worker says so (<see cref="HeldLine"/>):
/// nothing syncs the journal after that (the writer never flushes, checkpoints are off, the
/// batcher is no longer asked, and with no more writes the overlay's background sync, due at its
/// next few MiB of writes, never comes), so a power cut from then on, however late, takes that
/// record, and every cut tests something. Shared
/// with the test, which reads the main's journal back after the cut with the same <see cref="Line"/>.
/// </summary>
public static class ShipWorkload
{
    public const string VolumeId = "shipped";
    private const string Consumer = "backup";
    private const int Block = 4096;
    private const long VolumeBytes = 16L << 20;

    public static EngineOptions Options => new() { BackgroundCheckpoints = false };

    /// <summary>The volume, and a journal consumer at sequence 0 that keeps every record, so the
    /// test can read the whole journal after recovery; durable before the worker starts.</summary>
    public static void Prepare(string dataDirectory)
    {
        using var engine = StorageEngine.Open(dataDirectory, Options);
        engine.RegisterJournalConsumer(engine.CreateVolume(VolumeId, VolumeBytes).Group, Consumer, 0);
        engine.Checkpoint();
    }

    /// <summary>Writes and ships until the process is killed; prints READY once shipping runs.</summary>
    public static async Task RunAsync(string dataDirectory, int seed, TextWriter output)
    {
        var engine = StorageEngine.Open(dataDirectory, Options); // never closed: the test cuts the power
        var volume = engine.GetVolume(VolumeId);
        using var batcher = new JournalBatcher(engine, volume.Group, new HashSet<string>(StringComparer.Ordinal) { VolumeId });
        var random = new Random(seed);
        var shipping = TimeSpan.FromMilliseconds(200 + random.Next(1500));
        var held = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            var data = new byte[Block];
            for (var i = 0; !held.IsCancellationRequested; i++)
            {
                random.NextBytes(data);
                await volume.WriteAsync(random.Next((int)(VolumeBytes / Block)) * (long)Block, data, fua: false);
                if (i % 8 == 7)
                {
                    await Task.Delay(1); // bounded: about 4 MB/s, well inside the disk the test makes
                }
            }
        });
        output.WriteLine("READY");
        long after = 0;
        long? firstShipped = null;
        while (firstShipped is not { } first || Stopwatch.GetElapsedTime(first) < shipping)
        {
            if (batcher.Next(after) is not { } batch)
            {
                await Task.Delay(1);
                continue;
            }
            foreach (var record in batch.Records)
            {
                output.WriteLine(Line(record));
            }
            after = batch.LastSequence;
            firstShipped ??= Stopwatch.GetTimestamp();
        }
        while (engine.GetJournalStatus(volume.Group) is var status && status.LastSequence <= status.DurableSequence)
        {
            await Task.Delay(1);
        }
        await held.CancelAsync();
        await writer;
        var last = engine.GetJournalStatus(volume.Group);
        if (last.LastSequence <= last.DurableSequence)
        {
            throw new InvalidOperationException($"the journal became durable through {last.DurableSequence} while the writer stopped: no record is held");
        }
        output.WriteLine(HeldLine(last.LastSequence));
        await Task.Delay(Timeout.Infinite); // until the cut
    }

    /// <summary>A record as one line: sequence, kind, range and a digest of its payload.</summary>
    public static string Line(JournalRecord record) => string.Create(CultureInfo.InvariantCulture,
        $"R {record.Sequence} {record.Kind} {record.VolumeId} {record.Offset} {record.Length} {Convert.ToHexString(SHA256.HashData(record.Payload.Span), 0, 12)}");

    /// <summary>The journal's last sequence once shipping stopped and it is past the durable end:
    /// a record the journal holds and no flush will cover.</summary>
    public static string HeldLine(long sequence) => string.Create(CultureInfo.InvariantCulture, $"H {sequence}");

    /// <summary>The sequence of a <see cref="HeldLine"/>; null for any other line.</summary>
    public static long? HeldOf(string line) =>
        line.StartsWith("H ", StringComparison.Ordinal) ? long.Parse(line[2..], CultureInfo.InvariantCulture) : null;

    /// <summary>The sequence of a <see cref="Line"/>; null for any other line.</summary>
    public static long? SequenceOf(string line) =>
        line.StartsWith("R ", StringComparison.Ordinal) ? long.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture) : null;
}
