using CsiDriver.Rpc;

namespace CsiDriver.Csi;

/// <summary>
/// What may still be provisioned, and the one place CreateVolume and ControllerExpandVolume
/// take it from. Volumes are thin (a volume holds disk only where it was written), so the
/// overcommit is explicit: with ratio R (<c>--overcommit-ratio</c>) and P the bytes provisioned,
/// <code>
///   available = min(R × the data file system's size − P,
///                   R × the engine's available bytes,
///                   --capacity-limit − P, when given)
/// </code>
/// never below 0. GetCapacity reports it (and as maximum_volume_size); a create or an expand
/// of more is RESOURCE_EXHAUSTED. The second bound makes a full disk provision nothing.
///
/// P counts every volume row plus the reservations of creates and expands in flight. The check
/// and the reservation are one step under one lock, and a reservation turns into its volume's
/// row under the same lock (<see cref="Reservation.Commit"/>), so concurrent calls can never
/// provision past the bounds, and no size is ever counted twice or not at all.
/// </summary>
public sealed class ProvisioningBudget(Driver driver)
{
    private readonly Lock _lock = new();
    private long _reserved;

    /// <summary>Bytes that can still be provisioned now.</summary>
    public long Available()
    {
        lock (_lock)
        {
            return Bound().Bytes;
        }
    }

    /// <summary>Takes <paramref name="bytes"/> from the budget, or refuses with RESOURCE_EXHAUSTED
    /// naming the bound that is reached. Commit it with the row that makes it a volume; disposing
    /// it uncommitted gives the bytes back.</summary>
    public Reservation Reserve(long bytes)
    {
        lock (_lock)
        {
            var (available, because) = Bound();
            if (bytes > available)
            {
                throw new RpcException(StatusCode.ResourceExhausted,
                    $"{bytes} bytes cannot be provisioned: {available} bytes are left ({because})");
            }
            _reserved += bytes;
        }
        return new Reservation(this, bytes);
    }

    private (long Bytes, string Because) Bound()
    {
        var provisioned = driver.State.ListVolumes().Sum(v => v.CapacityBytes) + _reserved;
        var ratio = driver.Options.OvercommitRatio;
        var total = new DriveInfo(driver.Options.DataDirectory).TotalSize;
        var free = driver.Engine.AvailableBytes;
        var bounds = new List<(long Bytes, string Because)>
        {
            (Scaled(ratio, total) - provisioned, $"overcommit ratio {ratio} × the data file system's {total} bytes, less {provisioned} provisioned"),
            (Scaled(ratio, free), $"overcommit ratio {ratio} × the {free} bytes free for data"),
        };
        if (driver.Options.CapacityLimitBytes is { } limit)
        {
            bounds.Add((limit - provisioned, $"capacity limit {limit} bytes, less {provisioned} provisioned"));
        }
        var tightest = bounds.MinBy(b => b.Bytes);
        return (Math.Max(0, tightest.Bytes), tightest.Because);
    }

    private static long Scaled(double ratio, long bytes) =>
        ratio * bytes >= long.MaxValue ? long.MaxValue : (long)(ratio * bytes);

    private void Release(long bytes)
    {
        lock (_lock)
        {
            _reserved -= bytes;
        }
    }

    /// <summary>Bytes taken from the budget for one create or expand in flight.</summary>
    public sealed class Reservation(ProvisioningBudget budget, long bytes) : IDisposable
    {
        private bool _done;

        /// <summary>Records the volume (<paramref name="record"/> inserts or grows its row) and
        /// lets the reservation go in the same step: from now on the row counts instead.</summary>
        public void Commit(Action record)
        {
            lock (budget._lock)
            {
                record();
                budget._reserved -= bytes;
                _done = true;
            }
        }

        public void Dispose()
        {
            if (!_done)
            {
                _done = true;
                budget.Release(bytes);
            }
        }
    }
}
