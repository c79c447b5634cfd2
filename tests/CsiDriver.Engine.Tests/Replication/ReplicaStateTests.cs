using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine.Tests.Replication;

public sealed class ReplicaStateTests
{
    [Fact]
    public void RoundTripsAndRefusesANewerOrShortRecord()
    {
        var state = new ReplicaState(42, 1_700_000_000_000_042, true, 40, 1_700_000_000_000_040);
        var bytes = state.ToBytes();
        Assert.Equal(ReplicaState.Size, bytes.Length);
        Assert.True(ReplicaState.TryParse(bytes, out var parsed, out var error), error);
        Assert.Equal(state, parsed);
        Assert.Equal(new ReplicaPosition(42, 1_700_000_000_000_042, true), parsed.Position);
        Assert.False(ReplicaState.TryParse(bytes[..^1], out _, out _));
        bytes[2] = ReplicaState.Version + 1;
        Assert.False(ReplicaState.TryParse(bytes, out _, out _));
    }
}
