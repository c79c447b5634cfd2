using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class NbdServerOptionsTests
{
    private static readonly NbdServerOptions Valid = new()
    {
        Endpoints = [NbdEndpoint.Unix("/tmp/never-bound.sock")],
        Exports = new NbdCompositeExportCatalog(),
    };

    [Fact]
    public void Defaults_are_valid()
    {
        Valid.Validate();
        Assert.Equal((1, 4096, 32 * 1024 * 1024), (Valid.MinimumBlockSize, Valid.PreferredBlockSize, Valid.MaxPayloadBytes));
    }

    public static TheoryData<NbdServerOptions> Invalid => new()
    {
        new NbdServerOptions { Endpoints = [], Exports = Valid.Exports },
        new NbdServerOptions { Endpoints = Valid.Endpoints, Exports = Valid.Exports, MinimumBlockSize = 3 },
        new NbdServerOptions { Endpoints = Valid.Endpoints, Exports = Valid.Exports, MinimumBlockSize = 128 * 1024 },
        new NbdServerOptions { Endpoints = Valid.Endpoints, Exports = Valid.Exports, MinimumBlockSize = 512, PreferredBlockSize = 256 },
        new NbdServerOptions { Endpoints = Valid.Endpoints, Exports = Valid.Exports, MaxPayloadBytes = 1000 },
        new NbdServerOptions { Endpoints = Valid.Endpoints, Exports = Valid.Exports, MaxRequestsInFlight = 0 },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Inconsistent_limits_are_refused_when_the_server_is_built(NbdServerOptions options) =>
        Assert.Throws<ArgumentException>(() => new NbdServer(options));
}
