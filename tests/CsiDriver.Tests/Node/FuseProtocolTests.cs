using CsiDriver.Node.Fuse;

namespace CsiDriver.Tests.Node;

/// <summary>Every message layout has the size the kernel's uapi header gives it (fuse.h, 7.45):
/// one field too many or too few would shift every byte after it.</summary>
public sealed class FuseProtocolTests
{
    [Fact]
    public void Message_layouts_have_the_kernel_header_sizes()
    {
        Assert.Equal(40, FuseWire.SizeOf<InHeader>());
        Assert.Equal(16, FuseWire.SizeOf<OutHeader>());
        Assert.Equal(64, FuseWire.SizeOf<InitIn>());
        Assert.Equal(64, FuseWire.SizeOf<InitOut>());
        Assert.Equal(88, FuseWire.SizeOf<FuseAttributes>());
        Assert.Equal(128, FuseWire.SizeOf<EntryOut>());
        Assert.Equal(104, FuseWire.SizeOf<AttributesOut>());
        Assert.Equal(88, FuseWire.SizeOf<SetAttributesIn>());
        Assert.Equal(8, FuseWire.SizeOf<OpenIn>());
        Assert.Equal(16, FuseWire.SizeOf<OpenOut>());
        Assert.Equal(40, FuseWire.SizeOf<ReadIn>());
        Assert.Equal(40, FuseWire.SizeOf<WriteIn>());
        Assert.Equal(8, FuseWire.SizeOf<WriteOut>());
        Assert.Equal(32, FuseWire.SizeOf<FallocateIn>());
        Assert.Equal(80, FuseWire.SizeOf<StatFsOut>());
        Assert.Equal(24, FuseWire.SizeOf<DirectoryEntry>());
    }

    [Fact]
    public void A_short_INIT_from_an_old_kernel_reads_with_zeroes_for_the_fields_it_lacks()
    {
        var whole = new byte[FuseWire.SizeOf<InitIn>()];
        FuseWire.Write(whole, new InitIn { Major = 7, Minor = 31, MaxReadahead = 4096, Flags = 0xFFFF_FFFF, Flags2 = 0xFFFF_FFFF });

        var read = FuseWire.ReadPadded<InitIn>(whole.AsSpan(0, 16));

        Assert.Equal((7u, 31u, 0xFFFF_FFFFu, 0u), (read.Major, read.Minor, read.Flags, read.Flags2));
    }
}
