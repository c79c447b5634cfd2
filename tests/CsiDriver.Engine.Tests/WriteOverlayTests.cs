namespace CsiDriver.Engine.Tests;

/// <summary>
/// The write overlay off the writers' path: its syncs and applies run in the background, and its
/// payload buffers are pooled, so a buffer must not be handed to another write while a read is
/// still copying from it.
/// Not run beside other tests: their writes share the overlays' payload pool with the one
/// that counts the pool's reuse.
/// </summary>
[Collection(nameof(WriteOverlayTests))]
[CollectionDefinition(nameof(WriteOverlayTests), DisableParallelization = true)]
public sealed class WriteOverlayTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Writes_reach_the_data_files_without_a_flush_a_checkpoint_or_a_full_overlay()
    {
        const int bound = 1 << 20;
        using var engine = StorageEngine.Open(_directory.Path, new EngineOptions { BackgroundCheckpoints = false, OverlayBytes = bound });
        var volume = engine.CreateVolume("v", 4L << 20);
        var data = Bytes.Pattern(bound / 4, 1); // a quarter of the bound: far from full
        Bytes.Write(volume, 0, data);

        // Bounded wait for background work; nothing else would ever sync or apply these writes.
        Assert.True(SpinWait.SpinUntil(() => volume.Group.Overlay.IsEmpty, TimeSpan.FromSeconds(60)),
            "writes past the sync batch stayed in the overlay: nothing synced and applied them in the background");
        Assert.True(volume.Group.Commit.DurableSequence >= volume.Group.Journal.LastSequence);
        var layer = new byte[data.Length];
        RandomAccess.Read(volume.Top.Handle, layer, 0);
        Assert.Equal(data, layer);
    }

    [Fact]
    public void A_read_copying_from_a_pending_write_never_sees_bytes_of_another_write()
    {
        // A small bound recycles the pooled buffers fast. Writers fill 16 KiB blocks with one
        // byte value each: region A with values below 128, region B with values from 128. A read
        // of A that copied from a buffer handed meanwhile to a write of B would see B's values.
        const int block = 16 << 10;
        const int blocks = 8;
        using var engine = StorageEngine.Open(_directory.Path, new EngineOptions { BackgroundCheckpoints = false, OverlayBytes = 256 << 10 });
        var volume = engine.CreateVolume("v", 2L * blocks * block);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var failures = new List<string>();
        var reads = 0L;

        void Fail(string failure)
        {
            lock (failures)
            {
                failures.Add(failure);
            }
            stop.Cancel();
        }

        Thread Run(Action loop) => new(() =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    loop();
                }
            }
            catch (Exception e)
            {
                Fail(e.ToString());
            }
        });

        Thread Writer(int region, int seed)
        {
            var random = new Random(seed);
            var buffer = new byte[block];
            return Run(() =>
            {
                Array.Fill(buffer, (byte)(region * 128 + random.Next(1, 128)));
                Bytes.Write(volume, (long)(region * blocks + random.Next(blocks)) * block, buffer);
            });
        }

        var read = new byte[blocks * block];
        var reader = Run(() =>
        {
            volume.ReadAsync(0, read).AsTask().GetAwaiter().GetResult();
            Interlocked.Increment(ref reads);
            if (Array.FindIndex(read, b => b >= 128) is var i and >= 0)
            {
                Fail($"byte {i} of region A reads {read[i]}, a value only region B is written with");
            }
        });
        Thread[] threads = [Writer(0, 1), Writer(1, 2), Writer(1, 3), reader];
        Array.ForEach(threads, t => t.Start());
        Array.ForEach(threads, t => t.Join());

        Assert.Empty(failures);
        Assert.True(Interlocked.Read(ref reads) > 0);
    }

    [Fact]
    public void Small_writes_reuse_the_payload_buffers_of_writes_applied_before_them()
    {
        // 2,000 writes of 4 KiB pending at once (8 MiB, a quarter of the bound), applied, then
        // 2,000 more: the second round's payload buffers are the first round's. A pool that kept
        // a few buffers per size gave nearly every small write a fresh array (zeroed, faulted in).
        const int writes = 2000;
        const int block = 4096;
        using var engine = StorageEngine.Open(_directory.Path, new EngineOptions { BackgroundCheckpoints = false, OverlayBytes = 32 << 20 });
        var volume = engine.CreateVolume("v", (long)writes * block);
        var data = Bytes.Pattern(block, 7);

        long WriteAll()
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < writes; i++)
            {
                Bytes.Write(volume, (long)i * block, data);
            }
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            volume.Group.Overlay.Commit();
            return allocated;
        }

        WriteAll();
        var allocated = WriteAll();

        // Each write still allocates its overlay entry and index slots (a few hundred bytes);
        // fresh payload arrays alone would be 8 MiB.
        Assert.True(allocated < writes * block / 4,
            $"the second round of {writes} 4 KiB writes allocated {allocated / 1024} KiB on the writer's thread: payload buffers were not reused");
        Assert.Equal(data, Bytes.Read(volume, (writes - 1L) * block, block));
    }

    [Fact]
    public void The_payload_pool_keeps_returned_buffers_up_to_its_bytes_per_size()
    {
        var pool = new PayloadPool(32 << 10, 2);
        var small = Enumerable.Range(0, 40).Select(_ => pool.Rent(1000)).ToList(); // 1 KiB each
        var large = Enumerable.Range(0, 3).Select(_ => pool.Rent(40 << 10)).ToList(); // 64 KiB each
        Assert.All(small, b => Assert.Equal(1024, b.Length));
        Assert.All(large, b => Assert.Equal(64 << 10, b.Length));

        small.ForEach(pool.Return); // 32 of them fit in 32 KiB; 8 are dropped
        large.ForEach(pool.Return); // past 32 KiB, but at least 2 are kept
        Assert.Equal((32 << 10) + (128 << 10), pool.KeptBytes);

        var again = Enumerable.Range(0, 32).Select(_ => pool.Rent(1024)).ToList();
        Assert.True(again.All(small.ToHashSet(ReferenceEqualityComparer.Instance).Contains), "the buffers rented again are not ones returned");
        Assert.Equal(128 << 10, pool.KeptBytes);
        Assert.Equal((2 << 20) + 1, pool.Rent((2 << 20) + 1).Length); // past the largest pooled size: exact, not kept
    }
}
