using Csi.V1;
using CsiDriver.Csi;
using CsiDriver.Rpc;

namespace CsiDriver.Tests.Csi;

public class CapacityRulesTests
{
    [Fact]
    public void No_range_gives_the_default() => Assert.Equal(CapacityRules.DefaultBytes, CapacityRules.SizeFor(null));

    [Theory]
    [InlineData(1, 0, 4096)]
    [InlineData(4096, 0, 4096)]
    [InlineData(4097, 0, 8192)]
    [InlineData(0, 8192, 8192)]
    [InlineData(0, 10L << 30, 1L << 30)]
    [InlineData(5000, 8192, 8192)]
    public void Sizes_are_whole_blocks_within_the_range(long required, long limit, long expected) =>
        Assert.Equal(expected, CapacityRules.SizeFor(new CapacityRange { RequiredBytes = required, LimitBytes = limit }));

    [Theory]
    [InlineData(8192, 4096)]
    [InlineData(1000, 1000)]
    [InlineData(0, 100)]
    [InlineData(-1, 0)]
    [InlineData(1L << 50, 0)]
    public void Ranges_with_no_fitting_size_are_out_of_range(long required, long limit)
    {
        var error = Assert.Throws<RpcException>(() => CapacityRules.SizeFor(new CapacityRange { RequiredBytes = required, LimitBytes = limit }));
        Assert.Equal(StatusCode.OutOfRange, error.Status);
    }

    [Fact]
    public void An_existing_size_fits_a_range_that_contains_it()
    {
        Assert.True(CapacityRules.Fits(8192, new CapacityRange { RequiredBytes = 4096, LimitBytes = 8192 }));
        Assert.True(CapacityRules.Fits(8192, null));
        Assert.False(CapacityRules.Fits(8192, new CapacityRange { RequiredBytes = 12288 }));
        Assert.False(CapacityRules.Fits(8192, new CapacityRange { LimitBytes = 4096 }));
    }
}
