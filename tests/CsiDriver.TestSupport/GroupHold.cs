using CsiDriver.Engine;

namespace CsiDriver.TestSupport;

/// <summary>
/// Holds a consistency group paused (as a snapshot's cut does, but until disposed): writes and
/// replica applies of the group wait. Lets a test line events up instead of racing a clock, e.g.
/// queue batches behind an apply that cannot finish yet. The pause's locks belong to one thread,
/// so a thread of its own takes and releases them.
/// </summary>
public sealed class GroupHold : IDisposable
{
    private readonly ManualResetEventSlim _release = new();
    private readonly Thread _holder;

    public GroupHold(ConsistencyGroup group)
    {
        using var held = new ManualResetEventSlim();
        _holder = new Thread(() =>
        {
            using (new GroupPause([group]))
            {
                held.Set();
                _release.Wait();
            }
        }) { IsBackground = true, Name = "group-hold" };
        _holder.Start();
        held.Wait();
    }

    public void Dispose()
    {
        _release.Set();
        _holder.Join();
        _release.Dispose();
    }
}
