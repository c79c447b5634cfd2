using System.Text.Json;
using System.Text.RegularExpressions;
using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>The driver's stdout: one line per RPC naming method, status and duration, secrets
/// never written, and one JSON object per line with --log-format json.</summary>
public sealed partial class DriverLogTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private const string Secret = "s3cr3t-value";

    private CsiClient Csi => fixture.Csi;

    private ProcessOutput Output => fixture.Driver.Output;

    [Fact]
    public async Task A_successful_rpc_is_one_line_with_method_status_and_duration()
    {
        var name = Volumes.UniqueName("logged");
        await Csi.CreateVolume(Volumes.Request(name));

        var line = await Output.WaitForLineAsync(l => l.Contains(name), $"mentioning {name}");

        Assert.Single(Output.StandardOutput, l => l.Contains(name));
        Assert.Contains("CreateVolume", line);
        Assert.Matches(OkStatus(), line);
        Assert.Matches(Duration(), line);
    }

    [Fact]
    public async Task A_failed_rpc_is_one_line_with_its_status()
    {
        var name = Volumes.UniqueName("logged-failure");
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolume(Volumes.Request(name, Volumes.Mount("ntfs"))));

        var line = await Output.WaitForLineAsync(l => l.Contains(name), $"mentioning {name}");

        Assert.Single(Output.StandardOutput, l => l.Contains(name));
        Assert.Contains("CreateVolume", line);
        Assert.Matches(InvalidArgumentStatus(), line);
        Assert.Matches(Duration(), line);
    }

    [Fact]
    public async Task Secrets_never_reach_the_log()
    {
        // spec: csi_secret fields "MUST be treated as such (e.g. not logged)".
        var name = Volumes.UniqueName("secret");
        var create = Volumes.Request(name);
        create.Secrets["password"] = Secret;
        var volume = (await Csi.CreateVolume(create)).Volume;
        await Csi.ControllerPublishVolume(new ControllerPublishVolumeRequest
        {
            VolumeId = volume.VolumeId,
            NodeId = fixture.NodeId,
            VolumeCapability = Volumes.Mount(),
            Secrets = { ["password"] = Secret },
        });
        await Csi.ControllerUnpublishVolume(new ControllerUnpublishVolumeRequest { VolumeId = volume.VolumeId, NodeId = fixture.NodeId, Secrets = { ["password"] = Secret } });
        var delete = new DeleteVolumeRequest { VolumeId = volume.VolumeId, Secrets = { ["password"] = Secret } };
        await Csi.DeleteVolume(delete);

        await Output.WaitForLineAsync(l => l.Contains(name), $"mentioning {name}");
        await Output.WaitForLineAsync(l => l.Contains("DeleteVolume") && l.Contains(volume.VolumeId), "for the DeleteVolume call");

        Assert.DoesNotContain(Secret, Output.AllText);
    }

    [Fact]
    public async Task Json_format_writes_one_object_per_line()
    {
        using var workspace = DriverWorkspace.Create();
        await using var driver = await DriverProcess.StartAsync(workspace, new DriverSettings { LogFormat = "json" });
        var name = Volumes.UniqueName("json-logged");
        await driver.Csi.CreateVolume(Volumes.Request(name));
        var line = await driver.Output.WaitForLineAsync(l => l.Contains(name), $"mentioning {name}");
        Assert.Contains("CreateVolume", line);

        await driver.StopAsync();

        var lines = driver.Output.StandardOutput.Where(l => l.Length > 0).ToList();
        Assert.NotEmpty(lines);
        Assert.All(lines, l =>
        {
            using var document = JsonDocument.Parse(l);
            Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        });
    }

    [Fact]
    public async Task A_journal_tail_cut_at_start_is_a_warning_in_the_log()
    {
        // docs/formats.md: a cut is "reported (StorageEngine.Recovery, and a warning in the log)".
        using var workspace = DriverWorkspace.Create();
        await using (var first = await DriverProcess.StartAsync(workspace))
        {
            var volume = await first.Csi.CreateAsync("torn-tail", requiredBytes: 16 * Volumes.MiB);
            // A resize is one journal record in the volume's journal.
            await first.Csi.ControllerExpandVolume(new ControllerExpandVolumeRequest
            {
                VolumeId = volume.VolumeId,
                CapacityRange = new CapacityRange { RequiredBytes = 32 * Volumes.MiB },
            });
            await first.StopAsync();
        }
        var journals = Path.Combine(workspace.DataDirectory, "engine", "journals");
        var segment = Assert.Single(Directory.GetFiles(journals, "journal-*.seg", SearchOption.AllDirectories), s => new FileInfo(s).Length > SegmentHeaderBytes);
        // The last bytes of a segment are its last record's checksum: a torn write.
        using (var file = File.OpenHandle(segment, FileMode.Open, FileAccess.ReadWrite))
        {
            var length = RandomAccess.GetLength(file);
            var last = new byte[1];
            RandomAccess.Read(file, last, length - 1);
            last[0] ^= 0xFF;
            RandomAccess.Write(file, last, length - 1);
        }

        await using var second = await DriverProcess.StartAsync(workspace);

        var line = await second.Output.WaitForLineAsync(l => l.Contains("off the tail", StringComparison.Ordinal), "about the journal tail cut");
        Assert.Contains("WRN", line);
        Assert.Contains("checksum", line);
        await second.StopAsync();
    }

    /// <summary>docs/formats.md: a segment starts with a 64-byte header.</summary>
    private const int SegmentHeaderBytes = 64;

    [GeneratedRegex(@"\b(OK|Ok)\b")]
    private static partial Regex OkStatus();

    [GeneratedRegex(@"InvalidArgument|INVALID_ARGUMENT")]
    private static partial Regex InvalidArgumentStatus();

    [GeneratedRegex(@"\d+(\.\d+)?\s*(ns|us|µs|ms|s)\b")]
    private static partial Regex Duration();
}
