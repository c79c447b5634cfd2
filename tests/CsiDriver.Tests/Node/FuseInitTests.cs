using CsiDriver.Node.Fuse;

namespace CsiDriver.Tests.Node;

/// <summary>The INIT exchange: what Formation takes from the kernel's offer, and when a session
/// may outlive csidriver.</summary>
public sealed class FuseInitTests
{
    private const uint Everything = 0xFFFF_FFFF;

    [Fact]
    public void A_kernel_offering_resend_gets_7_40_async_direct_io_and_1_MiB_requests_but_no_writeback_cache()
    {
        var (reply, terms) = FuseInit.Negotiate(new InitIn { Major = 7, Minor = 45, MaxReadahead = 131072, Flags = Everything, Flags2 = Everything });

        Assert.Equal(new FuseTerms(40, KernelResends: true), terms);
        Assert.Equal((7u, 40u), (reply.Major, reply.Minor));
        var accepted = (FuseInitFlags)((ulong)reply.Flags | ((ulong)reply.Flags2 << 32));
        Assert.True(accepted.HasFlag(FuseInitFlags.AsyncDio | FuseInitFlags.AsyncRead | FuseInitFlags.MaxPages));
        Assert.False(accepted.HasFlag(FuseInitFlags.WritebackCache), "a FUSE writeback cache would acknowledge writes the engine does not have");
        Assert.Equal((uint)FuseInit.MaxWrite, reply.MaxWrite);
        Assert.Equal(256, reply.MaxPages);
        Assert.True(reply.MaxBackground >= 16, "the loop device's queue depth needs background requests");
    }

    [Fact]
    public void A_kernel_without_resend_is_served_but_its_sessions_end_with_csidriver()
    {
        var (reply, terms) = FuseInit.Negotiate(new InitIn { Major = 7, Minor = 38, Flags = Everything, Flags2 = Everything & ~(uint)((ulong)FuseInitFlags.HasResend >> 32) });

        Assert.Equal(new FuseTerms(38, KernelResends: false), terms);
        Assert.Equal(38u, reply.Minor);
    }

    [Fact]
    public void The_resend_flag_counts_only_when_the_kernel_says_its_flags_go_on_in_flags2()
    {
        var (_, terms) = FuseInit.Negotiate(new InitIn { Major = 7, Minor = 40, Flags = Everything & ~(uint)FuseInitFlags.InitExt, Flags2 = Everything });

        Assert.False(terms!.KernelResends);
    }

    [Fact]
    public void A_newer_major_version_gets_our_major_alone_and_waits_for_the_next_INIT()
    {
        var (reply, terms) = FuseInit.Negotiate(new InitIn { Major = 8, Minor = 1 });

        Assert.Null(terms);
        Assert.Equal((7u, FuseProtocol.ProtocolMinor, 0u), (reply.Major, reply.Minor, reply.MaxWrite));
    }

    [Theory]
    [InlineData(7u, 27u)]
    [InlineData(6u, 40u)]
    public void A_kernel_too_old_is_refused_with_the_versions_named(uint major, uint minor)
    {
        var refused = Assert.Throws<FuseProtocolException>(() => FuseInit.Negotiate(new InitIn { Major = major, Minor = minor }));

        Assert.Contains($"{major}.{minor}", refused.Message);
        Assert.Contains("7.28", refused.Message);
    }
}
