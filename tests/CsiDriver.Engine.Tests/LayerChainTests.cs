using CsiDriver.Engine.Layers;

namespace CsiDriver.Engine.Tests;

/// <summary>
/// How an update reaches a layer's data file. The kernel sizes a page-cache folio by the write
/// that creates it, and every later small write into a folio walks all of its blocks: a large
/// write applied in one call makes the 4 KiB writes after it several times dearer in the kernel.
/// </summary>
public sealed class LayerChainTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void A_write_larger_than_a_chunk_reaches_the_data_file_one_chunk_per_call()
    {
        const int chunks = 16;
        var layer = new Layer(1, _directory.Path, new ChunkMap(chunks));
        using var handle = layer.Handle;
        var data = Bytes.Pattern(chunks * ChunkRange.ChunkSize, 7);

        // This thread's own count of write calls: no other thread's I/O is in it.
        var before = ThreadWriteCalls();
        LayerChain.Write(layer, 0, data);
        var calls = ThreadWriteCalls() - before;

        Assert.True(calls >= chunks, $"a {chunks}-chunk write reached the data file in {calls} call(s); a call larger than a chunk makes page-cache folios larger than a chunk");
        var back = new byte[data.Length];
        layer.Read(0, back);
        Assert.Equal(data, back);
        Assert.All(Enumerable.Range(0, chunks), chunk => Assert.True(layer.Map.Contains(chunk)));
    }

    private static long ThreadWriteCalls() =>
        long.Parse(File.ReadLines("/proc/thread-self/io").Single(line => line.StartsWith("syscw:", StringComparison.Ordinal))["syscw:".Length..].Trim(),
            System.Globalization.CultureInfo.InvariantCulture);
}
