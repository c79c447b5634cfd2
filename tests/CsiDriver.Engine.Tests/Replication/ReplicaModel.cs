using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine.Tests.Replication;

/// <summary>The main site's group as plain byte arrays: makes random batches of updates, applies
/// them to itself, and remembers a fingerprint of its content at every batch boundary.</summary>
internal sealed class ReplicaModel
{
    private readonly Random _random;
    private readonly Dictionary<long, string> _boundaries = [];

    public ReplicaModel(int seed, params string[] volumeIds)
    {
        _random = new Random(seed);
        Volumes = volumeIds.ToDictionary(v => v, _ => new byte[Size]);
        _boundaries[0] = Fingerprint(Volumes);
    }

    public const int Size = 32 * ChunkRange.ChunkSize;

    public Dictionary<string, byte[]> Volumes { get; }

    /// <summary>Main-site sequence of the last batch made.</summary>
    public long Sequence { get; private set; }

    /// <summary>The next batch: a few writes, trims and zeroed ranges over every volume, covering
    /// main-site sequences after <see cref="Sequence"/> (with gaps, as records for other volumes would leave),
    /// each at most <paramref name="blocks"/> 4 KiB blocks long.</summary>
    public ReplicaBatch NextBatch(int updates = 6, int blocks = 40)
    {
        var after = Sequence;
        var list = new List<ReplicaUpdate>();
        for (var i = 0; i < updates; i++)
        {
            var volume = Volumes.Keys.ElementAt(_random.Next(Volumes.Count));
            var offset = _random.Next(Size / 4096) * 4096L;
            var length = (int)Math.Min(Size - offset, 4096L * (1 + _random.Next(blocks)));
            if (_random.Next(5) == 0)
            {
                var kind = _random.Next(2) == 0 ? JournalRecordKind.Trim : JournalRecordKind.WriteZeroes;
                list.Add(new ReplicaUpdate(volume, kind, offset, length, ReadOnlyMemory<byte>.Empty));
                Volumes[volume].AsSpan((int)offset, length).Clear();
            }
            else
            {
                var data = new byte[length];
                _random.NextBytes(data);
                list.Add(ReplicaUpdate.Write(volume, offset, data));
                data.CopyTo(Volumes[volume], offset);
            }
        }
        Sequence = after + updates + _random.Next(3);
        _boundaries[Sequence] = Fingerprint(Volumes);
        return new ReplicaBatch(after, Sequence, 1_700_000_000_000_000 + Sequence, list);
    }

    /// <summary>The batch boundary whose content equals <paramref name="content"/>, or null.</summary>
    public long? BoundaryOf(IReadOnlyDictionary<string, byte[]> content)
    {
        var fingerprint = Fingerprint(content);
        return _boundaries.Where(b => b.Value == fingerprint).Select(b => (long?)b.Key).FirstOrDefault();
    }

    public static Dictionary<string, byte[]> Read(StorageEngine engine, IEnumerable<string> volumeIds) =>
        volumeIds.ToDictionary(v => v, v => Bytes.ReadAll(engine.GetVolume(v)));

    /// <summary>Compares volume contents by digest (xunit's element-wise comparison of megabytes is slow).</summary>
    public static void AssertSameContent(IReadOnlyDictionary<string, byte[]> expected, IReadOnlyDictionary<string, byte[]> actual) =>
        Assert.Equal(Fingerprint(expected), Fingerprint(actual));

    private static string Fingerprint(IReadOnlyDictionary<string, byte[]> content) =>
        string.Join(",", content.OrderBy(c => c.Key, StringComparer.Ordinal)
            .Select(c => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(c.Value))));
}
