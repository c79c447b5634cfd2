using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

/// <summary>A temporary data directory with a real engine, its volumes and an NBD server on a
/// unix socket in that directory. Disposing stops the server and deletes everything.</summary>
internal sealed class NbdTestEnvironment : IAsyncDisposable
{
    public const long MiB = 1024 * 1024;

    private NbdTestEnvironment(string directory, StorageEngine engine, NbdServer server, string socketPath)
    {
        Directory = directory;
        Engine = engine;
        Server = server;
        SocketPath = socketPath;
    }

    public string Directory { get; }

    public StorageEngine Engine { get; }

    public NbdServer Server { get; }

    public string SocketPath { get; }

    /// <param name="volumes">Volume ids and capacities to create.</param>
    /// <param name="readOnly">Volume ids published read-only.</param>
    /// <param name="under">Where to make the directory (a file system of the test's own); the temp directory by default.</param>
    public static async Task<NbdTestEnvironment> StartAsync(
        IEnumerable<(string Id, long Capacity)> volumes,
        IReadOnlySet<string>? readOnly = null,
        EngineOptions? engineOptions = null,
        string? under = null)
    {
        var directory = under is null
            ? System.IO.Directory.CreateTempSubdirectory("nbd-test-").FullName
            : System.IO.Directory.CreateDirectory(Path.Combine(under, "nbd-test-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        var engine = StorageEngine.Open(Path.Combine(directory, "data"), engineOptions);
        foreach (var (id, capacity) in volumes)
        {
            engine.CreateVolume(id, capacity);
        }
        var socketPath = Path.Combine(directory, "nbd.sock");
        var options = new NbdServerOptions
        {
            Endpoints = [NbdEndpoint.Unix(socketPath)],
            Exports = new VolumeExportCatalog(engine, id => readOnly?.Contains(id) ?? false),
            HandshakeTimeout = TimeSpan.FromSeconds(10),
        };
        var server = new NbdServer(options);
        await server.StartAsync();
        return new NbdTestEnvironment(directory, engine, server, socketPath);
    }

    public string Uri(string export) => $"nbd+unix:///{export}?socket={SocketPath}";

    /// <summary>Reads through the engine, not through NBD.</summary>
    public async Task<byte[]> ReadVolumeAsync(string id, long offset, int length)
    {
        var data = new byte[length];
        await Engine.GetVolume(id).ReadAsync(offset, data);
        return data;
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Engine.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
