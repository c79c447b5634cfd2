using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class NbdRequestValidatorTests : IDisposable
{
    private const long Size = 1024 * 1024;
    private readonly string _directory = Directory.CreateTempSubdirectory("nbd-validator-").FullName;
    private readonly StorageEngine _engine;
    private readonly NbdServerOptions _options;

    public NbdRequestValidatorTests()
    {
        _engine = StorageEngine.Open(_directory);
        _engine.CreateVolume("v", Size);
        _options = new NbdServerOptions { Endpoints = [NbdEndpoint.Unix("/tmp/unused.sock")], Exports = new VolumeExportCatalog(_engine) };
    }

    public void Dispose()
    {
        _engine.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData(NbdCommand.Read, 0, 4096, NbdCommandFlags.None, NbdError.None)]
    [InlineData(NbdCommand.Read, Size - 1, 1, NbdCommandFlags.Fua, NbdError.None)]
    [InlineData(NbdCommand.Read, Size - 1, 2, NbdCommandFlags.None, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.Read, 0, 0, NbdCommandFlags.None, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.Read, 0, 4096, NbdCommandFlags.DoNotFragment, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.Write, Size - 4096, 4096, NbdCommandFlags.Fua, NbdError.None)]
    [InlineData(NbdCommand.Write, Size, 1, NbdCommandFlags.None, NbdError.NoSpace)]
    [InlineData(NbdCommand.Write, ulong.MaxValue, 4096, NbdCommandFlags.None, NbdError.NoSpace)]
    [InlineData(NbdCommand.Write, 0, 4096, NbdCommandFlags.NoHole, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.WriteZeroes, 0, Size, NbdCommandFlags.NoHole | NbdCommandFlags.Fua, NbdError.None)]
    [InlineData(NbdCommand.WriteZeroes, 0, 4096, NbdCommandFlags.FastZero, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.Trim, 4096, 8192, NbdCommandFlags.None, NbdError.None)]
    [InlineData(NbdCommand.Flush, 0, 0, NbdCommandFlags.None, NbdError.None)]
    [InlineData(NbdCommand.Flush, 4096, 0, NbdCommandFlags.None, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.Cache, 0, 4096, NbdCommandFlags.None, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.BlockStatus, 0, 4096, NbdCommandFlags.None, NbdError.InvalidArgument)]
    [InlineData((NbdCommand)200, 0, 4096, NbdCommandFlags.None, NbdError.InvalidArgument)]
    public void Writable_export(NbdCommand command, ulong offset, uint length, NbdCommandFlags flags, NbdError expected) =>
        Assert.Equal(expected, Validate(command, offset, length, flags, readOnly: false, structured: false, _options));

    [Theory]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, NbdError.None)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.Fua, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.Write, NbdCommandFlags.None, NbdError.NotPermitted)]
    [InlineData(NbdCommand.Trim, NbdCommandFlags.None, NbdError.NotPermitted)]
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.None, NbdError.NotPermitted)]
    [InlineData(NbdCommand.Flush, NbdCommandFlags.None, NbdError.InvalidArgument)]
    public void Read_only_export(NbdCommand command, NbdCommandFlags flags, NbdError expected) =>
        Assert.Equal(expected, Validate(command, 0, command == NbdCommand.Flush ? 0u : 4096u, flags, readOnly: true, structured: false, _options));

    [Fact]
    public void Do_not_fragment_is_accepted_on_reads_once_structured_replies_are_on() =>
        Assert.Equal(NbdError.None, Validate(NbdCommand.Read, 0, 4096, NbdCommandFlags.DoNotFragment, readOnly: false, structured: true, _options));

    [Fact]
    public void Alignment_and_payload_limits_are_enforced()
    {
        var strict = new NbdServerOptions
        {
            Endpoints = _options.Endpoints, Exports = _options.Exports, MinimumBlockSize = 512, MaxPayloadBytes = 64 * 1024,
        };
        Assert.Equal(NbdError.None, Validate(NbdCommand.Read, 512, 1024, NbdCommandFlags.None, false, false, strict));
        Assert.Equal(NbdError.InvalidArgument, Validate(NbdCommand.Read, 100, 512, NbdCommandFlags.None, false, false, strict));
        Assert.Equal(NbdError.InvalidArgument, Validate(NbdCommand.Write, 0, 700, NbdCommandFlags.None, false, false, strict));
        Assert.Equal(NbdError.InvalidArgument, Validate(NbdCommand.Read, 0, 128 * 1024, NbdCommandFlags.None, false, false, strict));
        Assert.Equal(NbdError.None, Validate(NbdCommand.Trim, 0, 128 * 1024, NbdCommandFlags.None, false, false, strict));
    }

    private NbdError Validate(NbdCommand command, ulong offset, uint length, NbdCommandFlags flags, bool readOnly, bool structured, NbdServerOptions options)
    {
        var volume = _engine.GetVolume("v");
        var session = NbdSession.Create("v", readOnly ? new ReadOnlyBlockDevice(volume) : volume, structured);
        return NbdRequestValidator.Validate(new NbdRequestHeader(flags, command, 1, offset, length), session, options);
    }
}
