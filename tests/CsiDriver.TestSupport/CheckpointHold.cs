using CsiDriver.Engine;

namespace CsiDriver.TestSupport;

/// <summary>
/// Holds an engine's checkpoint lock (as a long checkpoint does, but until disposed): whatever
/// needs a checkpoint or the lock waits. Lets a test show that something does not wait for a
/// checkpoint without racing a clock. The lock belongs to one thread, so a thread of its own
/// takes and releases it.
/// </summary>
public sealed class CheckpointHold : IDisposable
{
    private readonly ManualResetEventSlim _release = new();
    private readonly Thread _holder;

    public CheckpointHold(StorageEngine engine)
    {
        using var held = new ManualResetEventSlim();
        _holder = new Thread(() =>
        {
            using (engine.Checkpointer.Exclusive())
            {
                held.Set();
                _release.Wait();
            }
        }) { IsBackground = true, Name = "checkpoint-hold" };
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
