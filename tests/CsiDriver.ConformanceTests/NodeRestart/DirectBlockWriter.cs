using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace CsiDriver.ConformanceTests.NodeRestart;

/// <summary>
/// A pod's raw block writer: 4 KiB blocks written with O_DIRECT (no page cache between it and
/// the device) at random places of a block device, each stamped with its write number and
/// place, every completed write remembered, and a remembered block read back and checked after
/// each write.
/// </summary>
public sealed partial class DirectBlockWriter : PodWriter, IDisposable
{
    public const int BlockSize = 4096;

    private const int O_RDWR = 2;
    private const int O_DIRECT = 0x4000;
    private const int O_CLOEXEC = 0x80000;

    private readonly SafeFileHandle _device;
    private readonly long _blocks;
    private readonly nint _buffer;
    private readonly Dictionary<long, long> _written = [];
    private readonly List<long> _places = [];
    private readonly Random _random = new(14);

    public DirectBlockWriter(string devicePath, long sizeBytes)
        : base("direct-block-writer", limit: 200_000)
    {
        var fd = Open(devicePath, O_RDWR | O_DIRECT | O_CLOEXEC);
        Assert.True(fd >= 0, $"open {devicePath} with O_DIRECT: errno {Marshal.GetLastPInvokeError()}");
        _device = new SafeFileHandle(fd, ownsHandle: true);
        _blocks = sizeBytes / BlockSize;
        _buffer = AlignedBlock();
        Start();
    }

    /// <summary>Reads every written block back; returns those that do not hold their last write.
    /// Call once the writer has stopped.</summary>
    public List<long> Damaged() => _written.Where(w => !Holds(w.Key, w.Value)).Select(w => w.Key).ToList();

    public void Dispose()
    {
        _device.Dispose();
        FreeBlock(_buffer);
    }

    protected override void Write(long n)
    {
        var block = _random.NextInt64(_blocks);
        Stamp(block, n);
        RandomAccess.Write(_device, Buffer, block * BlockSize);
        if (!_written.ContainsKey(block))
        {
            _places.Add(block);
        }
        _written[block] = n;
        var check = _places[_random.Next(_places.Count)];
        if (!Holds(check, _written[check]))
        {
            Fail($"block {check} does not hold write {_written[check]}");
        }
    }

    /// <summary>O_DIRECT needs a buffer aligned to the block size.</summary>
    private unsafe Span<byte> Buffer => new((void*)_buffer, BlockSize);

    private static unsafe nint AlignedBlock() => (nint)NativeMemory.AlignedAlloc(BlockSize, BlockSize);

    private static unsafe void FreeBlock(nint block) => NativeMemory.AlignedFree((void*)block);

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
