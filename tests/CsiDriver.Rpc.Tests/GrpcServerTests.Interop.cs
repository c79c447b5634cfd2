using System.Text.Json;

namespace CsiDriver.Rpc.Tests;

/// <summary>An independent client: grpc-js, run as a real node process against our server.</summary>
public partial class GrpcServerTests
{
    [Fact]
    public async Task Grpc_js_client_interoperates()
    {
        var output = await RunNodeClientAsync("echo-client.js", $"unix://{_server.SocketPath}");

        var results = JsonDocument.Parse(output).RootElement;
        Assert.Equal(0, results.GetProperty("mismatches").GetArrayLength());
        Assert.Equal("hello from grpc-js", results.GetProperty("unary").GetProperty("reply").GetProperty("text").GetString());
        Assert.Equal((int)StatusCode.DeadlineExceeded, results.GetProperty("deadline").GetProperty("code").GetInt32());
        var waitContext = await _server.Service.WaitStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(await _server.Service.WaitCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.NotNull(waitContext.Deadline);
        Assert.Equal("grpc-js", waitContext.RequestHeaders["x-client"]);
        Assert.Equal(new byte[] { 0, 1, 2, 254, 255 }, waitContext.RequestBinaryHeaders["x-blob-bin"]);
        Assert.Equal((int)StatusCode.FailedPrecondition, results.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal("volume 100% full: größer ✓", results.GetProperty("error").GetProperty("details").GetString());
        Assert.Equal((int)StatusCode.Unimplemented, results.GetProperty("unknownMethod").GetProperty("code").GetInt32());
        Assert.Equal((int)StatusCode.Unimplemented, results.GetProperty("unbound").GetProperty("code").GetInt32());
        Assert.Equal(5, results.GetProperty("serverStreaming").GetProperty("replies").GetArrayLength());
        Assert.Equal(["ALPHA", "BETA", "GAMMA"],
            results.GetProperty("duplex").GetProperty("replies").EnumerateArray().Select(r => r.GetProperty("text").GetString()));

        // Every call grpc-js made was observed by the server, once each.
        await _server.WaitForCompletionCountAsync(7);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "CsiDriver.sln")))
            {
                return directory.FullName;
            }
        }
        throw new DirectoryNotFoundException($"No CsiDriver.sln above {AppContext.BaseDirectory}.");
    }
}
