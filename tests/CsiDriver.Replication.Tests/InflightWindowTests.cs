using CsiDriver.Replication;

namespace CsiDriver.Replication.Tests;

/// <summary>The window's waits are asynchronous: an acquire that does not fit returns an
/// unfinished task at once, so each test sees the block as that task and the bytes counted,
/// never as time passing without an answer.</summary>
public sealed class InflightWindowTests
{
    [Fact]
    public async Task A_full_window_holds_the_sender_until_acknowledgements_release_room()
    {
        var window = new InflightWindow(100);
        await window.AcquireAsync(1, 60, isBatch: true, default);
        await window.AcquireAsync(2, 40, isBatch: false, default);
        var third = window.AcquireAsync(3, 30, isBatch: true, default);
        Assert.False(third.IsCompleted, "a message that does not fit went out");
        Assert.Equal(100, window.InflightBytes);

        var released = window.Release(1);
        await third.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal([1L], released.Select(m => m.Message));
        Assert.Equal(70, window.InflightBytes);
        Assert.Equal([2L, 3L], window.Release(3).Select(m => m.Message));
        Assert.Equal(0, window.InflightBytes);
    }

    [Fact]
    public async Task One_message_larger_than_the_window_passes_when_nothing_is_in_flight()
    {
        var window = new InflightWindow(10);
        await window.AcquireAsync(1, 1000, isBatch: true, default).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1000, window.InflightBytes);

        // With it in flight, even one byte waits, until its sender gives up.
        using var cancel = new CancellationTokenSource();
        var next = window.AcquireAsync(2, 1, isBatch: true, cancel.Token);
        Assert.False(next.IsCompleted, "a byte went out past a full window");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next);
        Assert.Equal(1000, window.InflightBytes);
    }
}
