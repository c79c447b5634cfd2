using System.Globalization;
using System.Text;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Metadata;
using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine.Tests.PowerCut;

/// <summary>
/// What a cut left of one journal, taken before the engine opens (recovery cuts and truncates):
/// the checkpoint's entry for it, then every segment and spare file, each read to its end, as
/// runs of consecutive sequences (with the replica positions of the batches in them) and where
/// and why reading stopped. For a failure message: it shows whether a durable record was lost
/// from the files or passed over by recovery.
/// </summary>
internal static class JournalPicture
{
    public static string Describe(string dataDirectory, string journal)
    {
        var text = new StringBuilder();
        var checkpoint = Path.Combine(dataDirectory, "checkpoint");
        try
        {
            var payload = MetadataFile.Read(checkpoint, CheckpointDocument.FileMagic, CheckpointDocument.Version);
            var entry = payload == null ? null : CheckpointDocument.Parse(payload, checkpoint).Journals.FirstOrDefault(j => j.Journal == journal);
            text.Append(CultureInfo.InvariantCulture, $"checkpoint: {(entry == null ? "none" : $"sequence {entry.Sequence}, replica {entry.Replica?.SourceSequence.ToString(CultureInfo.InvariantCulture) ?? "none"}")}");
        }
        catch (CorruptionException e)
        {
            text.Append(CultureInfo.InvariantCulture, $"checkpoint: {e.Message}");
        }
        var directory = Path.Combine(dataDirectory, "journals", journal);
        var files = Directory.Exists(directory) ? Directory.GetFiles(directory).Order(StringComparer.Ordinal) : Enumerable.Empty<string>();
        foreach (var file in files)
        {
            text.Append(CultureInfo.InvariantCulture, $"; {Path.GetFileName(file)} ({new FileInfo(file).Length} bytes): ");
            try
            {
                text.Append(DescribeSegment(file));
            }
            catch (Exception e) when (e is IOException or CorruptionException)
            {
                text.Append(e.Message);
            }
        }
        return text.ToString();
    }

    private static string DescribeSegment(string path)
    {
        using var reader = SegmentReader.Open(path, limit: null, out var error);
        if (reader == null)
        {
            return $"bad header ({error})";
        }
        var runs = new List<string>();
        (long First, long Last, long FirstBatch, long LastBatch)? run = null;
        void Close()
        {
            if (run is { } r)
            {
                runs.Add($"{r.First}..{r.Last}" + (r.LastBatch > 0 ? $" (replica {r.FirstBatch}..{r.LastBatch})" : ""));
            }
        }
        SegmentReadStatus status;
        while ((status = reader.Next()) == SegmentReadStatus.Record)
        {
            var sequence = reader.Header.Sequence;
            long batch = 0;
            if (reader.Header.Kind == JournalRecordKind.ReplicaBatch && ReplicaBatchRecord.TryParse(reader.Payload.Span, out var batchReader, out _))
            {
                batch = batchReader.LastSequence;
            }
            if (run is { } r && sequence == r.Last + 1)
            {
                run = (r.First, sequence, r.FirstBatch > 0 ? r.FirstBatch : batch, batch > 0 ? batch : r.LastBatch);
            }
            else
            {
                Close();
                run = (sequence, sequence, batch, batch);
            }
        }
        Close();
        var end = status == SegmentReadStatus.End ? "end" : $"stops at {reader.Position}: {reader.Error}";
        return $"segment {reader.Segment.Number} from {reader.Segment.StartSequence}, records {string.Join(", ", runs.DefaultIfEmpty("none"))}, {end}";
    }
}
