using System.Buffers.Binary;
using System.Net.Sockets;
using Csi.V1;
using CsiAddons.Identity;
using CsiAddons.Replication;
using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Infrastructure;
using Google.Protobuf.Reflection;
using Xunit.Abstractions;

namespace CsiDriver.ConformanceTests.Faults;

/// <summary>
/// Hostile gRPC input against the published binary, on both its sockets (CSI and csi-addons):
/// every method of every service gets random bytes as its message, well-formed messages of
/// hostile content (<see cref="RandomMessages"/>) and broken framing; unknown and malformed
/// paths; a thousand concurrent streams on one connection; connections that send garbage
/// instead of HTTP/2. Each call must end in a gRPC status that is not UNKNOWN and not a
/// handler's unmapped exception, within a bound; after each kind of abuse the driver must
/// still be running and answer Probe.
/// </summary>
public sealed class HostileGrpcTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int RandomBodiesPerMethod = 4;
    private const int FuzzedMessagesPerMethod = 24;
    private const int ConcurrentStreams = 1000;
    private static readonly TimeSpan CallBound = TimeSpan.FromSeconds(20);

    private readonly DriverWorkspace _workspace = DriverWorkspace.Create();
    private readonly FaultFigures _figures = new("hostile gRPC frames");
    private DriverProcess _driver = null!;

    public async Task InitializeAsync() => _driver = await DriverProcess.StartAsync(_workspace, new DriverSettings { CsiAddons = true });

    public async Task DisposeAsync()
    {
        try
        {
            await _driver.StopAsync();
        }
        finally
        {
            await _driver.DisposeAsync();
            _workspace.Dispose();
        }
    }

    [Fact]
    public async Task Every_answer_is_a_grpc_status_and_the_driver_keeps_serving()
    {
        var random = new Random(20261204);
        foreach (var (socket, services) in new[]
        {
            (_workspace.SocketPath, CsiReflection.Descriptor.Services),
            (_workspace.CsiAddonsSocketPath, IdentityReflection.Descriptor.Services.Concat(ReplicationReflection.Descriptor.Services).Concat(VolumegroupReflection.Descriptor.Services).ToList()),
        })
        {
            using var channel = new RawGrpcChannel(socket);
            foreach (var method in services.SelectMany(s => s.Methods))
            {
                var path = $"/{method.Service.FullName}/{method.Name}";
                for (var i = 0; i < RandomBodiesPerMethod; i++)
                {
                    await ExpectStatusAsync(channel, "random bytes", path, Frame(RandomMessages.RandomBytes(random, random.Next(1, 300))));
                }
                for (var i = 0; i < FuzzedMessagesPerMethod; i++)
                {
                    await ExpectStatusAsync(channel, "hostile message", path, Frame(RandomMessages.Create(method.InputType, random)));
                }
                await SendBrokenFramesAsync(channel, path, method.InputType, random);
            }
            await SendUnknownPathsAsync(channel, random);
            await CheckServingAsync("after abusing every method on " + Path.GetFileName(socket));
        }
        await SendConcurrentStreamsAsync();
        await SendGarbageConnectionsAsync(random);
        _figures.Report(output);
    }

    /// <summary>Frames whose prefix lies: a length longer than what follows, the largest length
    /// there is, compression that was never negotiated, an unknown flag, two messages in a
    /// unary call, and no message at all.</summary>
    private async Task SendBrokenFramesAsync(RawGrpcChannel channel, string path, MessageDescriptor input, Random random)
    {
        var message = RandomMessages.Create(input, random);
        var truncated = Frame(message);
        BinaryPrimitives.WriteUInt32BigEndian(truncated.AsSpan(1), (uint)message.Length + 100);
        var huge = Frame(message);
        BinaryPrimitives.WriteUInt32BigEndian(huge.AsSpan(1), uint.MaxValue);
        var compressed = Frame(message);
        compressed[0] = 1;
        var unknownFlag = Frame(message);
        unknownFlag[0] = 0x80;
        foreach (var (kind, body) in new[]
        {
            ("length past the body", truncated), ("4 GiB length", huge), ("compressed flag", compressed),
            ("unknown flag", unknownFlag), ("two messages", [.. Frame(message), .. Frame(message)]), ("no message", Array.Empty<byte>()),
            ("half a prefix", Frame(message)[..3]),
        })
        {
            await ExpectStatusAsync(channel, kind, path, body);
        }
    }

    private async Task SendUnknownPathsAsync(RawGrpcChannel channel, Random random)
    {
        var paths = new[]
        {
            "/csi.v1.Controller/NoSuchMethod", "/no.such.Service/Probe", "/csi.v1.Identity/", "/", "/csi.v1.Identity/Probe/extra",
            "/../csi.v1.Identity/Probe", "/" + new string('x', 4000) + "/y",
        };
        foreach (var path in paths)
        {
            await ExpectStatusAsync(channel, "unknown path", path, Frame(RandomMessages.RandomBytes(random, 8)));
        }
        // A NUL in :path is not a request HTTP allows: Kestrel resets the stream (PROTOCOL_ERROR)
        // before any gRPC code runs, which is a fine answer too.
        var answer = await channel.PostAsync("/csi.v1.Identity/Pr%00obe", Frame([]), CallBound);
        _figures.Case(answer.Defect is { } defect && !defect.Contains("PROTOCOL_ERROR", StringComparison.Ordinal) ? $"NUL in the path: {defect}" : null);
    }

    /// <summary>A thousand Probe calls at once on one HTTP/2 connection: each answered OK.</summary>
    private async Task SendConcurrentStreamsAsync()
    {
        using var channel = new RawGrpcChannel(_workspace.SocketPath);
        var answers = await Task.WhenAll(Enumerable.Range(0, ConcurrentStreams)
            .Select(_ => channel.PostAsync("/csi.v1.Identity/Probe", Frame([]), TimeSpan.FromSeconds(60))));
        foreach (var answer in answers)
        {
            _figures.Case(answer.GrpcStatus == "0" ? null : $"concurrent Probe: {answer}");
        }
        await CheckServingAsync("after a thousand concurrent streams");
    }

    /// <summary>Connections that are not HTTP/2: garbage from the first byte, garbage after the
    /// connection preface, a preface cut short, and a huge frame header.</summary>
    private async Task SendGarbageConnectionsAsync(Random random)
    {
        var preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();
        var attacks = new List<(string Kind, byte[] Bytes)>
        {
            ("preface cut short", preface[..10]),
            ("frame header announcing 16 MiB", [.. preface, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
        };
        for (var i = 0; i < 20; i++)
        {
            attacks.Add(("garbage", RandomMessages.RandomBytes(random, random.Next(1, 2000))));
            attacks.Add(("garbage after the preface", [.. preface, .. RandomMessages.RandomBytes(random, random.Next(1, 2000))]));
        }
        foreach (var (kind, bytes) in attacks)
        {
            using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(_workspace.SocketPath));
                try
                {
                    await socket.SendAsync(bytes);
                }
                catch (SocketException)
                {
                    // The server may close first: that is a fine answer to garbage.
                }
            }
            _figures.Case(_driver.HasExited ? $"{kind}: csidriver exited" : null);
        }
        await CheckServingAsync("after garbage connections");
    }

    private async Task ExpectStatusAsync(RawGrpcChannel channel, string kind, string path, byte[] body)
    {
        var answer = await channel.PostAsync(path, body, CallBound);
        _figures.Case(answer.Defect is { } defect ? $"{kind} to {Shorten(path)}: {defect}" : null);
    }

    private async Task CheckServingAsync(string when)
    {
        string? failure = null;
        if (_driver.HasExited)
        {
            failure = $"csidriver exited {when}";
        }
        else
        {
            try
            {
                await _driver.Csi.Probe();
            }
            catch (Exception e)
            {
                failure = $"Probe failed {when}: {e.Message}";
            }
        }
        _figures.Case(failure);
        Assert.True(failure is null, failure + "\n" + _driver.Output.AllText);
    }

    private static byte[] Frame(byte[] message)
    {
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    private static string Shorten(string path) => path.Length > 80 ? path[..80] + "…" : path;
}
