using Microsoft.Win32.SafeHandles;

namespace CsiDriver.Engine;

/// <summary>One volume's data, addressed in bytes.</summary>
public sealed class Volume : IBlockDevice, IDisposable
{
    private readonly SafeFileHandle _handle;

    internal Volume(string id, string path)
    {
        Id = id;
        Path = path;
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
    }

    public string Id { get; }

    public string Name => Id;

    internal string Path { get; }

    public long Size => RandomAccess.GetLength(_handle);

    public bool IsReadOnly => false;

    public async ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, buffer.Length);
        var done = 0;
        while (done < buffer.Length)
        {
            var n = await RandomAccess.ReadAsync(_handle, buffer[done..], offset + done, cancellationToken);
            if (n == 0)
            {
                buffer.Span[done..].Clear();
                break;
            }
            done += n;
        }
    }

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, data.Length);
        await RandomAccess.WriteAsync(_handle, data, offset, cancellationToken);
        if (fua)
        {
            RandomAccess.FlushToDisk(_handle);
        }
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        RandomAccess.FlushToDisk(_handle);
        return ValueTask.CompletedTask;
    }

    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) =>
        WriteZeroesAsync(offset, length, fua: false, cancellationToken);

    public async ValueTask WriteZeroesAsync(long offset, long length, bool fua, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, length);
        var zeroes = new byte[Math.Min(length, 1 << 20)];
        for (long done = 0; done < length; done += zeroes.Length)
        {
            var n = (int)Math.Min(zeroes.Length, length - done);
            await RandomAccess.WriteAsync(_handle, zeroes.AsMemory(0, n), offset + done, cancellationToken);
        }
        if (fua)
        {
            RandomAccess.FlushToDisk(_handle);
        }
    }

    internal void Grow(long newSize) => RandomAccess.SetLength(_handle, newSize);

    public void Dispose() => _handle.Dispose();

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Size)
        {
            throw new OutOfRangeException($"range [{offset}, {offset + length}) is outside volume '{Id}' of {Size} bytes");
        }
    }
}
