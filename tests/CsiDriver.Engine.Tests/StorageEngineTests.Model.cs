namespace CsiDriver.Engine.Tests;

/// <summary>Model-based: random sequences of operations against the engine and against plain
/// byte arrays; every volume and snapshot must equal its model after every step.</summary>
public sealed partial class StorageEngineTests
{
    private static readonly string?[] Groups = [null, "g1", "g2"];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task RandomOperationsAgreeWithModel(int seed)
    {
        var random = new Random(seed);
        var volumes = new Dictionary<string, byte[]>();
        var snapshots = new Dictionary<string, (string Volume, byte[] Data)>();
        var engine = Open();
        var names = 0;
        var history = new List<string>();
        try
        {
            for (var step = 0; step < 250; step++)
            {
                if (volumes.Count == 0)
                {
                    var id = "v" + names++;
                    engine.CreateVolume(id, 4 * Chunk, Groups[random.Next(Groups.Length)]);
                    volumes[id] = new byte[4 * Chunk];
                }
                var volumeId = volumes.Keys.ElementAt(random.Next(volumes.Count));
                var model = volumes[volumeId];
                var volume = engine.GetVolume(volumeId);
                var roll = random.Next(100);
                if (roll < 45)
                {
                    var (offset, length) = RandomRange(random, model.Length);
                    var data = Bytes.Pattern(length, random.Next());
                    history.Add($"write {volumeId} {offset}+{length}");
                    Bytes.Write(volume, offset, data, fua: random.Next(4) == 0);
                    data.CopyTo(model, offset);
                }
                else if (roll < 55)
                {
                    var (offset, length) = RandomRange(random, model.Length);
                    var zeroes = random.Next(2) == 0;
                    history.Add($"{(zeroes ? "zero" : "trim")} {volumeId} {offset}+{length}");
                    await (zeroes ? volume.WriteZeroesAsync(offset, length, fua: false) : volume.TrimAsync(offset, length));
                    Array.Clear(model, offset, length);
                }
                else if (roll < 60)
                {
                    history.Add("flush");
                    await volume.FlushAsync();
                }
                else if (roll < 68)
                {
                    var id = "s" + names++;
                    history.Add($"snapshot {volumeId} {id}");
                    engine.CreateSnapshot(volumeId, id);
                    snapshots[id] = (volumeId, (byte[])model.Clone());
                }
                else if (roll < 71 && volumes.Count > 1)
                {
                    var other = volumes.Keys.First(k => k != volumeId);
                    var (a, b) = ("s" + names++, "s" + names++);
                    history.Add($"group snapshot {volumeId} {a} {other} {b}");
                    engine.CreateGroupSnapshot([(volumeId, a), (other, b)]);
                    snapshots[a] = (volumeId, (byte[])model.Clone());
                    snapshots[b] = (other, (byte[])volumes[other].Clone());
                }
                else if (roll < 77 && snapshots.Count > 0)
                {
                    var id = snapshots.Keys.ElementAt(random.Next(snapshots.Count));
                    history.Add($"delete snapshot {id}");
                    Assert.True(engine.DeleteSnapshot(id));
                    snapshots.Remove(id);
                }
                else if (roll < 81 && snapshots.Count > 0 && volumes.Count < 6)
                {
                    var source = snapshots.ElementAt(random.Next(snapshots.Count));
                    var id = "v" + names++;
                    var size = source.Value.Data.Length + random.Next(2) * Chunk;
                    history.Add($"volume {id} from {source.Key} size {size}");
                    engine.CreateVolumeFromSnapshot(id, source.Key, size, Groups[random.Next(Groups.Length)]);
                    volumes[id] = new byte[size];
                    source.Value.Data.CopyTo(volumes[id], 0);
                }
                else if (roll < 84 && volumes.Count < 6)
                {
                    var id = "v" + names++;
                    history.Add($"clone {id} of {volumeId}");
                    engine.CloneVolume(id, volumeId, model.Length, Groups[random.Next(Groups.Length)]);
                    volumes[id] = (byte[])model.Clone();
                }
                else if (roll < 87 && volumes.Count > 1)
                {
                    history.Add($"delete volume {volumeId}");
                    Assert.True(engine.DeleteVolume(volumeId));
                    volumes.Remove(volumeId);
                }
                else if (roll < 89 && model.Length < 8 * Chunk)
                {
                    var size = model.Length + 4096 * (1 + random.Next(20));
                    history.Add($"expand {volumeId} {size}");
                    engine.ExpandVolume(volumeId, size);
                    var grown = new byte[size];
                    model.CopyTo(grown, 0);
                    volumes[volumeId] = grown;
                }
                else if (roll < 92)
                {
                    var group = Groups[random.Next(Groups.Length)];
                    history.Add($"move {volumeId} {group}");
                    engine.MoveVolume(volumeId, group);
                }
                else if (roll < 94)
                {
                    history.Add("checkpoint");
                    engine.Checkpoint();
                }
                else if (roll < 97)
                {
                    history.Add("crash");
                    engine.CloseWithoutCheckpoint();
                    engine = Open();
                }
                else
                {
                    history.Add("reopen");
                    engine.Dispose();
                    engine = Open();
                }
                AssertAgrees(engine, volumes, snapshots, $"step {step} after: {string.Join("; ", history.TakeLast(12))}");
            }
        }
        finally
        {
            engine.Dispose();
        }
    }

    private static (int Offset, int Length) RandomRange(Random random, int size)
    {
        // Mostly block-aligned, sometimes byte-granular; often crossing chunk boundaries.
        var aligned = random.Next(4) != 0;
        var offset = aligned ? random.Next(size / 4096) * 4096 : random.Next(size);
        var length = aligned ? 4096 * (1 + random.Next(24)) : 1 + random.Next(3 * Chunk);
        return (offset, Math.Min(length, size - offset));
    }

    private static void AssertAgrees(StorageEngine engine, Dictionary<string, byte[]> volumes, Dictionary<string, (string Volume, byte[] Data)> snapshots, string step)
    {
        Assert.Equal(volumes.Keys.Order(), engine.Volumes.Select(v => v.Id).Order());
        Assert.Equal(snapshots.Keys.Order(), engine.Snapshots.Select(s => s.Id).Order());
        foreach (var (id, model) in volumes)
        {
            var actual = Bytes.ReadAll(engine.GetVolume(id));
            Assert.True(model.AsSpan().SequenceEqual(actual), $"{step}: volume {id} differs from its model");
        }
        foreach (var (id, (volumeId, model)) in snapshots)
        {
            var actual = Bytes.ReadAll(engine.OpenSnapshot(id));
            Assert.True(model.AsSpan().SequenceEqual(actual), $"{step}: snapshot {id} of {volumeId} differs from its model");
            var allocated = engine.AllocatedChunks(id);
            Assert.True(OutsideIsZero(model, allocated), $"{step}: snapshot {id} has data outside its allocated chunks");
        }
        foreach (var pair in snapshots.GroupBy(s => s.Value.Volume).Where(g => g.Count() >= 2).Select(g => g.Take(2).ToArray()))
        {
            var changed = engine.ChangedChunks(pair[0].Key, pair[1].Key);
            Assert.True(OutsideEqual(pair[0].Value.Data, pair[1].Value.Data, changed), $"{step}: {pair[0].Key}→{pair[1].Key} differ outside the changed chunks");
            var blocks = engine.ChangedBlocks(pair[0].Key, pair[1].Key);
            Assert.True(OutsideEqual(pair[0].Value.Data, pair[1].Value.Data, blocks.Ranges), $"{step}: {pair[0].Key}→{pair[1].Key} differ outside the changed blocks ({blocks.BlockSize} B: {blocks.Why})");
        }
    }

    private static bool OutsideIsZero(byte[] data, IReadOnlyList<ChunkRange> ranges) =>
        OutsideEqual(data, new byte[data.Length], ranges);

    private static bool OutsideEqual(byte[] a, byte[] b, IReadOnlyList<ChunkRange> ranges)
    {
        var covered = new bool[Math.Max(a.Length, b.Length)];
        foreach (var range in ranges)
        {
            Array.Fill(covered, true, (int)range.Offset, (int)Math.Min(range.Length, covered.Length - range.Offset));
        }
        for (var i = 0; i < covered.Length; i++)
        {
            var x = i < a.Length ? a[i] : 0;
            var y = i < b.Length ? b[i] : 0;
            if (!covered[i] && x != y)
            {
                return false;
            }
        }
        return true;
    }
}
