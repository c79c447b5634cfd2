namespace CsiDriver.Engine.Tests;

[CollectionDefinition(nameof(ThreadPoolIndependenceTests), DisableParallelization = true)]
public sealed class ThreadPoolIndependence;

/// <summary>
/// Durability never waits for a thread-pool thread. A snapshot holds the engine's structure
/// lock while its journal is synced; had the sync been queued to the pool, callers blocked on
/// that lock could have taken every pool thread, and the snapshot (and every writer behind the
/// group commit) would wait for the pool to grow, or forever where it cannot. Runs alone: it
/// caps and fills the process's pool.
/// </summary>
[Collection(nameof(ThreadPoolIndependenceTests))]
public sealed class ThreadPoolIndependenceTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void SnapshotsAndFlushesCompleteWhileThePoolIsExhausted()
    {
        using var engine = StorageEngine.Open(_directory.Path, new EngineOptions { BackgroundCheckpoints = false });
        var volume = engine.CreateVolume("v", 4 * ChunkRange.ChunkSize);
        ThreadPool.GetMaxThreads(out var maxWorkers, out var maxIo);
        ThreadPool.GetMinThreads(out var minWorkers, out _);
        var release = new TaskCompletionSource(); // never disposed: queued items may start after the test ends
        Assert.True(ThreadPool.SetMaxThreads(minWorkers, maxIo));
        try
        {
            for (var i = 0; i < 4 * minWorkers; i++)
            {
                ThreadPool.UnsafeQueueUserWorkItem(_ => release.Task.Wait(), null);
            }
            Assert.True(SpinWait.SpinUntil(() => { ThreadPool.GetAvailableThreads(out var free, out _); return free == 0; }, TimeSpan.FromSeconds(30)));

            // On a thread of its own, as the RPC handlers' callers would be.
            Exception? failure = null;
            var worker = new Thread(() =>
            {
                try
                {
                    Bytes.Write(volume, 0, Bytes.Pattern(4096, 1)); // not yet durable
                    engine.CreateSnapshot("v", "s1");
                    Bytes.Write(volume, 4096, Bytes.Pattern(4096, 2));
                    volume.FlushAsync().AsTask().GetAwaiter().GetResult();
                    Bytes.Write(volume, 8192, Bytes.Pattern(4096, 3), fua: true);
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }) { IsBackground = true };
            worker.Start();
            Assert.True(worker.Join(TimeSpan.FromSeconds(30)), "a snapshot or flush waited for the exhausted thread pool");
            Assert.Null(failure);
        }
        finally
        {
            release.SetResult();
            ThreadPool.SetMaxThreads(maxWorkers, maxIo);
        }
        Assert.NotNull(engine.FindSnapshot("s1"));
    }
}
