using System.Net.Sockets;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class NbdErrorsTests
{
    public static TheoryData<Exception, NbdError> Mappings => new()
    {
        { new ReadOnlyVolumeException("v"), NbdError.NotPermitted },
        { new InsufficientSpaceException("full"), NbdError.NoSpace },
        { new IOException("disk full", 28), NbdError.NoSpace },
        { new IOException("quota", 122), NbdError.NoSpace },
        { new OutOfRangeException("past the end"), NbdError.InvalidArgument },
        { new ArgumentException("bad"), NbdError.InvalidArgument },
        { new OperationCanceledException(), NbdError.Shutdown },
        { new CorruptionException("checksum"), NbdError.IoError },
        { new VolumeNotFoundException("gone"), NbdError.IoError },
        { new IOException("media error", 5), NbdError.IoError },
        { new InvalidOperationException("bug"), NbdError.IoError },
    };

    [Theory]
    [MemberData(nameof(Mappings))]
    public void Engine_failures_map_to_protocol_errors(Exception exception, NbdError expected) =>
        Assert.Equal(expected, NbdErrors.FromException(exception));

    [Fact]
    public void Socket_failures_are_disconnects_and_engine_failures_are_not()
    {
        Assert.True(NbdErrors.IsDisconnect(new EndOfStreamException()));
        Assert.True(NbdErrors.IsDisconnect(new SocketException((int)SocketError.ConnectionReset)));
        Assert.False(NbdErrors.IsDisconnect(new CorruptionException("checksum")));
        Assert.False(NbdErrors.IsDisconnect(new IOException("disk")));
    }
}
