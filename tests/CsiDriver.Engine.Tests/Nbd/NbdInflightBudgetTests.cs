using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class NbdInflightBudgetTests
{
    private static readonly TimeSpan Blocked = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task Acquire_waits_for_a_free_request_slot()
    {
        var budget = new NbdInflightBudget(maxRequests: 2, maxBytes: 1000);
        budget.Acquire(10);
        budget.Acquire(10);
        var third = Task.Run(() => budget.Acquire(10));
        await Task.Delay(Blocked);
        Assert.False(third.IsCompleted);
        budget.Release(10);
        await third.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Acquire_waits_for_bytes_but_admits_an_oversized_request_alone()
    {
        var budget = new NbdInflightBudget(maxRequests: 10, maxBytes: 100);
        budget.Acquire(80);
        var big = Task.Run(() => budget.Acquire(500));
        await Task.Delay(Blocked);
        Assert.False(big.IsCompleted);
        budget.Release(80);
        await big.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Drain_returns_once_everything_is_released()
    {
        var budget = new NbdInflightBudget(maxRequests: 4, maxBytes: 100);
        budget.Drain();
        budget.Acquire(1);
        budget.Acquire(2);
        var drained = Task.Run(budget.Drain);
        budget.Release(1);
        await Task.Delay(Blocked);
        Assert.False(drained.IsCompleted);
        budget.Release(2);
        await drained.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
