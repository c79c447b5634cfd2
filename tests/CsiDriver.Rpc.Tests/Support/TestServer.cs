using System.Collections.Concurrent;

namespace CsiDriver.Rpc.Tests.Support;

/// <summary>A GrpcServer with the Echo service on a unix socket in its own temporary directory.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly ConcurrentQueue<CallCompletion> _completions = new();

    private TestServer(string directory, Action<GrpcServerOptions>? configure)
    {
        Directory = directory;
        SocketPath = Path.Combine(directory, "grpc.sock");
        Options = new GrpcServerOptions { OnCallCompleted = _completions.Enqueue };
        Options.Endpoints.Add(new ServerEndpoint.UnixSocket(SocketPath));
        configure?.Invoke(Options);
        Server = new GrpcServer(Options, [EchoService.Bind(Service)]);
    }

    public string Directory { get; }

    public string SocketPath { get; }

    public EchoService Service { get; } = new();

    public GrpcServerOptions Options { get; }

    public GrpcServer Server { get; }

    public IReadOnlyCollection<CallCompletion> Completions => _completions;

    public static async Task<TestServer> StartAsync(Action<GrpcServerOptions>? configure = null, Action<string>? beforeStart = null)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("formation-rpc-").FullName;
        var server = new TestServer(directory, configure);
        beforeStart?.Invoke(server.SocketPath);
        await server.Server.StartAsync();
        return server;
    }

    public GrpcClient CreateClient() => GrpcClient.ForUnixSocket(SocketPath);

    /// <summary>The observer runs after the status is sent, so a test waits (boundedly) for it.</summary>
    public async Task<CallCompletion> WaitForCompletionAsync(string method)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var found = _completions.Where(c => c.Method == method).ToList();
            if (found.Count > 0)
            {
                return Assert.Single(found);
            }
            await Task.Delay(10);
        }
        throw new TimeoutException($"No completion for {method} within 10 s.");
    }

    /// <summary>Waits (boundedly) until exactly <paramref name="count"/> calls were observed.</summary>
    public async Task WaitForCompletionCountAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_completions.Count < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        // A little longer, so a duplicate notification would show up too.
        await Task.Delay(50);
        Assert.Equal(count, _completions.Count);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
