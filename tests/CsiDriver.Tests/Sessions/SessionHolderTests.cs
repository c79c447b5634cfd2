using CsiDriver.Native;
using CsiDriver.Sessions;
using Microsoft.Extensions.Logging.Abstractions;

namespace CsiDriver.Tests.Sessions;

/// <summary>The session holder and its client over a real unix socket, passing real descriptors
/// (eventfds: a count written through one descriptor of an open file is read through another).</summary>
public sealed class SessionHolderTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("formation-holder-").FullName;
    private CancellationTokenSource _stop = new();
    private SessionHolder? _holder;
    private Task? _running;

    private string SocketPath => Path.Combine(_directory, "sessions", "holder.sock");

    public Task InitializeAsync()
    {
        StartHolder();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await StopHolderAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void A_held_descriptor_comes_back_as_the_same_open_file_with_its_ticket()
    {
        using var client = new SessionHolderClient(SocketPath);
        using var original = EventFd();
        client.Hold("/data/attach/vol-1", [7, 8], original);

        var held = Assert.Single(client.TakeBack("/data/attach/"));
        using var copy = held.Descriptor;

        Assert.Equal("/data/attach/vol-1", held.Name);
        Assert.Equal([7, 8], held.Ticket);
        Assert.True(client.IsHolding("/data/attach/vol-1"));
        Add(copy, 5);
        Assert.Equal(5UL, Take(original));
    }

    [Fact]
    public void Only_the_asked_prefix_comes_back_and_a_released_session_is_gone()
    {
        using var client = new SessionHolderClient(SocketPath);
        using var one = EventFd();
        using var other = EventFd();
        client.Hold("/a/attach/vol-1", [], one);
        client.Hold("/b/attach/vol-1", [], other);

        client.Release("/a/attach/vol-1");

        Assert.Empty(client.TakeBack("/a/"));
        var kept = Assert.Single(client.TakeBack("/b/"));
        kept.Descriptor.Dispose();
        Assert.False(client.IsHolding("/a/attach/vol-1"));
    }

    [Fact]
    public async Task A_holder_that_died_holds_nothing_and_a_new_one_takes_sessions_again()
    {
        using var client = new SessionHolderClient(SocketPath);
        using var descriptor = EventFd();
        client.Hold("/data/attach/vol-1", [], descriptor);

        await StopHolderAsync();

        Assert.False(client.IsHolding("/data/attach/vol-1"));
        Assert.Empty(client.TakeBack("/data/"));
        Assert.Throws<IOException>(() => client.Hold("/data/attach/vol-1", [], descriptor));

        StartHolder();
        client.Hold("/data/attach/vol-1", [], descriptor);
        Assert.True(client.IsHolding("/data/attach/vol-1"));
    }

    [Fact]
    public void A_second_holder_on_the_same_socket_is_refused()
    {
        var refused = Assert.Throws<IOException>(() => new SessionHolder(SocketPath, NullLogger.Instance));

        Assert.Contains("another session holder", refused.Message);
    }

    private void StartHolder()
    {
        _holder = new SessionHolder(SocketPath, NullLogger.Instance);
        _running = _holder.RunAsync(_stop.Token);
    }

    private async Task StopHolderAsync()
    {
        if (_holder is null)
        {
            return;
        }
        _stop.Cancel();
        await _running!;
        _holder.Dispose();
        _holder = null;
        // A cancelled source cannot be reset (TryReset refuses): reusing it would stop the next
        // holder as soon as it starts, racing the test's first request to it.
        _stop.Dispose();
        _stop = new CancellationTokenSource();
    }

    private static FileDescriptor EventFd() => new(Libc.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC), "eventfd"));

    private static unsafe void Add(FileDescriptor fd, ulong value) => Libc.Check((long)Libc.Write(fd.Number, (byte*)&value, sizeof(ulong)), "write eventfd");

    private static unsafe ulong Take(FileDescriptor fd)
    {
        ulong value;
        Libc.Check((long)Libc.Read(fd.Number, (byte*)&value, sizeof(ulong)), "read eventfd");
        return value;
    }
}
