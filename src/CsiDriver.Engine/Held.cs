namespace CsiDriver.Engine;

/// <summary>A component's monitor, held until disposed: how a component lends its lock to a
/// caller for a change of several steps (<see cref="Catalog.Hold"/>, <see cref="Checkpointer.Exclusive"/>).
/// Monitors are reentrant, so the component's own methods still run under it.</summary>
internal readonly struct Held : IDisposable
{
    private readonly object _monitor;

    public Held(object monitor)
    {
        Monitor.Enter(monitor);
        _monitor = monitor;
    }

    public void Dispose() => Monitor.Exit(_monitor);
}
