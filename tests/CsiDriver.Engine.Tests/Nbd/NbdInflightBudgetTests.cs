using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

/// <summary>The budget blocks its caller's thread; each test sees the block as the budget's own
/// count of waits, never as time passing without an answer.</summary>
public sealed class NbdInflightBudgetTests
{
    /// <summary>Runs <paramref name="call"/> on its own thread and returns once the budget has made
    /// it wait <paramref name="waits"/> times in all; a call that went through instead fails.</summary>
    private static Task Blocked(NbdInflightBudget budget, Action call, long waits = 1)
    {
        var task = Task.Factory.StartNew(call, TaskCreationOptions.LongRunning);
        AssertWaitsReach(budget, task, waits);
        return task;
    }

    private static void AssertWaitsReach(NbdInflightBudget budget, Task task, long waits)
    {
        Assert.True(SpinWait.SpinUntil(() => budget.Waits >= waits || task.IsCompleted, TimeSpan.FromSeconds(30)), "the call neither waited nor returned");
        Assert.False(task.IsCompleted, "the call went through instead of waiting");
        Assert.Equal(waits, budget.Waits);
    }

    [Fact]
    public async Task Acquire_waits_for_a_free_request_slot()
    {
        var budget = new NbdInflightBudget(maxRequests: 2, maxBytes: 1000);
        budget.Acquire(10);
        budget.Acquire(10);
        var third = Blocked(budget, () => budget.Acquire(10));

        budget.Release(10);
        await third.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, budget.Waits);
    }

    [Fact]
    public async Task Acquire_waits_for_bytes_but_admits_an_oversized_request_alone()
    {
        var budget = new NbdInflightBudget(maxRequests: 10, maxBytes: 100);
        budget.Acquire(80);
        var big = Blocked(budget, () => budget.Acquire(500));

        budget.Release(80);
        await big.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, budget.Waits);
    }

    [Fact]
    public async Task Drain_returns_once_everything_is_released()
    {
        var budget = new NbdInflightBudget(maxRequests: 4, maxBytes: 100);
        budget.Drain();
        Assert.Equal(0, budget.Waits);
        budget.Acquire(1);
        budget.Acquire(2);
        var drained = Blocked(budget, budget.Drain);

        // One release wakes the drain, which finds a request still in flight and waits again.
        budget.Release(1);
        AssertWaitsReach(budget, drained, waits: 2);
        budget.Release(2);
        await drained.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(budget.IsEmpty);
    }
}
