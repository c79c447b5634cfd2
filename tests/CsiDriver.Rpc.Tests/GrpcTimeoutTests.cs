using CsiDriver.Rpc.Protocol;

namespace CsiDriver.Rpc.Tests;

public class GrpcTimeoutTests
{
    [Theory]
    [InlineData("2H", 2 * TimeSpan.TicksPerHour)]
    [InlineData("3M", 3 * TimeSpan.TicksPerMinute)]
    [InlineData("10S", 10 * TimeSpan.TicksPerSecond)]
    [InlineData("250m", 250 * TimeSpan.TicksPerMillisecond)]
    [InlineData("1500u", 1500 * TimeSpan.TicksPerMicrosecond)]
    [InlineData("1000n", 10)]
    [InlineData("1n", 1)] // rounded up: a positive timeout never becomes zero
    [InlineData("0S", 0)]
    [InlineData("99999999H", 99_999_999 * TimeSpan.TicksPerHour)]
    public void Parses_every_unit(string header, long ticks)
    {
        Assert.True(GrpcTimeout.TryParse(header, out var timeout));
        Assert.Equal(TimeSpan.FromTicks(ticks), timeout);
    }

    [Theory]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("10")]
    [InlineData("10s")]
    [InlineData("10 S")]
    [InlineData("-1S")]
    [InlineData("123456789S")] // nine digits
    [InlineData("1.5S")]
    public void Refuses_malformed_values(string header)
    {
        Assert.False(GrpcTimeout.TryParse(header, out _));
    }

    [Theory]
    [InlineData(0.000_5)]
    [InlineData(0.25)]
    [InlineData(30)]
    [InlineData(3600 * 5)]
    [InlineData(3600 * 24 * 365)]
    public void Format_round_trips_within_its_unit_and_never_shortens(double seconds)
    {
        var timeout = TimeSpan.FromSeconds(seconds);
        var header = GrpcTimeout.Format(timeout);
        Assert.InRange(header.Length, 2, GrpcTimeout.MaxDigits + 1);
        Assert.True(GrpcTimeout.TryParse(header, out var parsed));
        Assert.True(parsed >= timeout, $"{header} is shorter than {timeout}");
        Assert.True(parsed - timeout < TimeSpan.FromTicks(Math.Max(timeout.Ticks / 1000, 10)), $"{header} is too far from {timeout}");
    }

    [Fact]
    public void Format_uses_the_finest_unit_that_fits()
    {
        Assert.Equal("50000000n", GrpcTimeout.Format(TimeSpan.FromMilliseconds(50)));
        Assert.Equal("2000000u", GrpcTimeout.Format(TimeSpan.FromSeconds(2)));
        Assert.Equal("0n", GrpcTimeout.Format(TimeSpan.FromSeconds(-1)));
    }
}
