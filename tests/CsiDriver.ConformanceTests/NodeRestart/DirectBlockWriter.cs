using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace CsiDriver.ConformanceTests.NodeRestart;

/// <summary>
/// A pod's raw block writer: 4 KiB blocks written with O_DIRECT (no page cache between it and
/// the device) at random places of a block device, each stamped with its write number and
/// place, every completed write remembered, and a remembered block read back and checked after
/// each write. Counts every failed write and every mismatch, and measures the longest stall
/// between two completed writes. Runs on a thread of its own, at most <see cref="MaxWrites"/> writes.
/// </summary>
public sealed partial class DirectBlockWriter : IDisposable
{
    public const int BlockSize = 4096;
    public const int MaxWrites = 200_000;

    private const int O_RDWR = 2;
    private const int O_DIRECT = 0x4000;
    private const int O_CLOEXEC = 0x80000;

    private readonly SafeFileHandle _device;
    private readonly long _blocks;
    private readonly nint _buffer;
    private readonly Dictionary<long, long> _written = [];
    private readonly List<string> _errors = [];
    private readonly Lock _lock = new();
    private readonly Thread _thread;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stop;
    private long _completed;
    private TimeSpan _longestStall;

    public DirectBlockWriter(string devicePath, long sizeBytes)
    {
        var fd = Open(devicePath, O_RDWR | O_DIRECT | O_CLOEXEC);
        Assert.True(fd >= 0, $"open {devicePath} with O_DIRECT: errno {Marshal.GetLastPInvokeError()}");
        _device = new SafeFileHandle(fd, ownsHandle: true);
        _blocks = sizeBytes / BlockSize;
        _buffer = AlignedBlock();
        _thread = new Thread(Run) { IsBackground = true, Name = "direct-block-writer" };
        _thread.Start();
    }

    public long Completed => Interlocked.Read(ref _completed);

    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_lock)
            {
                return _errors.ToList();
            }
        }
    }

    public TimeSpan LongestStall
    {
        get
        {
            lock (_lock)
            {
                return _longestStall;
            }
        }
    }

    public async Task WaitForProgressAsync(int more, TimeSpan timeout)
    {
        var target = Completed + more;
        var deadline = DateTime.UtcNow + timeout;
        while (Completed < target && !_finished.Task.IsCompleted)
        {
            Assert.True(DateTime.UtcNow < deadline,
                $"the block writer made no progress for {timeout.TotalSeconds} s ({Completed} writes; errors: {string.Join("; ", Errors.Take(3))})");
            await Task.Delay(20);
        }
        Assert.True(Completed >= target, $"the block writer stopped after {Completed} writes (limit {MaxWrites})");
    }

    public async Task StopAsync(TimeSpan timeout)
    {
        _stop = true;
        await _finished.Task.WaitAsync(timeout);
    }

    /// <summary>Reads every written block back; returns those that do not hold their last write.</summary>
    public List<long> Damaged()
    {
        lock (_lock)
        {
            return _written.Where(w => !Holds(w.Key, w.Value)).Select(w => w.Key).ToList();
        }
    }

    public void Dispose()
    {
        _device.Dispose();
        FreeBlock(_buffer);
    }

    /// <summary>O_DIRECT needs a buffer aligned to the block size.</summary>
    private unsafe Span<byte> Buffer => new((void*)_buffer, BlockSize);

    private static unsafe nint AlignedBlock() => (nint)NativeMemory.AlignedAlloc(BlockSize, BlockSize);

    private static unsafe void FreeBlock(nint block) => NativeMemory.AlignedFree((void*)block);

    private void Run()
    {
        var random = new Random(14);
        var sinceLast = Stopwatch.StartNew();
        for (long write = 1; write <= MaxWrites && !_stop; write++)
        {
            var block = random.NextInt64(_blocks);
            Stamp(block, write);
            try
            {
                RandomAccess.Write(_device, Buffer, block * BlockSize);
                lock (_lock)
                {
                    _written[block] = write;
                    _longestStall = TimeSpan.FromTicks(Math.Max(_longestStall.Ticks, sinceLast.Elapsed.Ticks));
                }
                sinceLast.Restart();
                Interlocked.Increment(ref _completed);
                var check = _written.Keys.ElementAt(random.Next(_written.Count));
                if (!Holds(check, _written[check]))
                {
                    lock (_lock)
                    {
                        _errors.Add($"block {check} does not hold write {_written[check]}");
                    }
                }
            }
            catch (IOException e)
            {
                lock (_lock)
                {
                    _errors.Add($"write {write} at block {block}: {e.Message}");
                }
            }
        }
        _finished.TrySetResult();
    }

    /// <summary>Every 8 bytes of the block: the write number, then the block number, repeated.</summary>
    private void Stamp(long block, long write)
    {
        var span = Buffer;
        for (var i = 0; i < BlockSize; i += 16)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[i..], write);
            BinaryPrimitives.WriteInt64LittleEndian(span[(i + 8)..], block);
        }
    }

    private bool Holds(long block, long write)
    {
        var span = Buffer;
        if (RandomAccess.Read(_device, span, block * BlockSize) != BlockSize)
        {
            return false;
        }
        for (var i = 0; i < BlockSize; i += 16)
        {
            if (BinaryPrimitives.ReadInt64LittleEndian(span[i..]) != write || BinaryPrimitives.ReadInt64LittleEndian(span[(i + 8)..]) != block)
            {
                return false;
            }
        }
        return true;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);
}
