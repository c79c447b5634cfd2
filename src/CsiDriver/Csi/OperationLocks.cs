using System.Collections.Concurrent;
using CsiDriver.Rpc;

namespace CsiDriver.Csi;

/// <summary>
/// At most one operation per volume name or id at a time. A second call for the same key
/// while the first runs gets ABORTED, as the CSI spec allows ("operation pending for
/// volume"); the CO retries it later and then sees the first call's result.
/// </summary>
public sealed class OperationLocks
{
    private readonly ConcurrentDictionary<string, byte> _inProgress = new(StringComparer.Ordinal);

    public Releaser Acquire(string kind, string key)
    {
        var lockKey = kind + "/" + key;
        if (!_inProgress.TryAdd(lockKey, 0))
        {
            throw new RpcException(StatusCode.Aborted, $"an operation on {kind} '{key}' is already in progress");
        }
        return new Releaser(this, lockKey);
    }

    public readonly struct Releaser(OperationLocks owner, string key) : IDisposable
    {
        public void Dispose() => owner._inProgress.TryRemove(key, out _);
    }
}
