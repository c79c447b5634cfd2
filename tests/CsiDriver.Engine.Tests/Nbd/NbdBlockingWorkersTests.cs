using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class NbdBlockingWorkersTests
{
    [Fact]
    public async Task Blocked_work_gets_new_threads_so_all_of_it_runs_at_once()
    {
        using var workers = new NbdBlockingWorkers(maxThreads: 8);
        using var allStarted = new CountdownEvent(8);
        var finished = Enumerable.Range(0, 8).Select(_ => new TaskCompletionSource()).ToArray();
        foreach (var done in finished)
        {
            workers.Run(() =>
            {
                // Each item blocks its thread until every item has started.
                allStarted.Signal();
                allStarted.Wait(TimeSpan.FromSeconds(10));
                done.SetResult();
            });
        }
        await Task.WhenAll(finished.Select(f => f.Task)).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(allStarted.IsSet);
    }

    [Fact]
    public async Task Idle_threads_are_reused_and_the_thread_count_stays_bounded()
    {
        using var workers = new NbdBlockingWorkers(maxThreads: 2);
        var threads = new HashSet<int>();
        for (var round = 0; round < 20; round++)
        {
            var done = new TaskCompletionSource();
            workers.Run(() =>
            {
                lock (threads)
                {
                    threads.Add(Environment.CurrentManagedThreadId);
                }
                done.SetResult();
            });
            await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        Assert.InRange(threads.Count, 1, 2);
    }
}
