using System.Numerics;

namespace CsiDriver.Engine;

/// <summary>
/// The write overlays' payload buffers: arrays of power-of-two sizes up to <see cref="Largest"/>,
/// each size keeping for reuse up to <paramref name="keptBytesPerSize"/> of returned buffers, and
/// at least <paramref name="keptAtLeast"/> of them. Many small buffers are outstanding at once: a
/// 32 MiB overlay of 4 KiB writes holds up to 8,192. A pool that keeps a fixed count per size (the
/// runtime's <c>ArrayPool.Create(1 MiB, 32)</c> before) kept 32 of them, 128 KiB: nearly every
/// 4 KiB write then got a fresh array, zeroed by the runtime and faulted in page by page by the
/// kernel (memset and clear_page, 8 % of csidriver's samples on 4 KiB random writes through the
/// FUSE node path). Bytes per size, not one budget over all: large buffers kept must not leave
/// no room for small ones.
/// </summary>
internal sealed class PayloadPool(long keptBytesPerSize, int keptAtLeast)
{
    /// <summary>The largest pooled buffer: the FUSE frontend's largest write. Larger payloads
    /// (NBD allows 32 MiB) get an array of their own, not kept.</summary>
    public const int Largest = 1 << LargestShift;

    private const int SmallestShift = 9;
    private const int LargestShift = 20;

    private readonly Stack<byte[]>[] _free = Enumerable.Range(0, LargestShift - SmallestShift + 1).Select(_ => new Stack<byte[]>()).ToArray();
    private long _keptBytes;

    /// <summary>Bytes of buffers held for reuse now.</summary>
    public long KeptBytes => Volatile.Read(ref _keptBytes);

    /// <summary>A buffer of at least <paramref name="length"/> bytes (the power of two at or above
    /// it), contents undefined.</summary>
    public byte[] Rent(int length)
    {
        if (length > Largest)
        {
            return GC.AllocateUninitializedArray<byte>(length);
        }
        var size = SizeClass(length);
        var free = _free[size];
        lock (free)
        {
            if (free.TryPop(out var buffer))
            {
                Interlocked.Add(ref _keptBytes, -buffer.Length);
                return buffer;
            }
        }
        return GC.AllocateUninitializedArray<byte>(1 << (size + SmallestShift));
    }

    /// <summary>Takes back a buffer <see cref="Rent"/> gave; kept while its size has room.</summary>
    public void Return(byte[] buffer)
    {
        if (buffer.Length > Largest || !BitOperations.IsPow2(buffer.Length) || buffer.Length < 1 << SmallestShift)
        {
            return;
        }
        var free = _free[SizeClass(buffer.Length)];
        lock (free)
        {
            if (free.Count < Math.Max(keptAtLeast, keptBytesPerSize / buffer.Length))
            {
                free.Push(buffer);
                Interlocked.Add(ref _keptBytes, buffer.Length);
            }
        }
    }

    private static int SizeClass(int length) =>
        Math.Max(0, BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)Math.Max(length, 1))) - SmallestShift);
}
