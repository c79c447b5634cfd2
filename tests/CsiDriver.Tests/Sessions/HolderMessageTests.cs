using CsiDriver.Node.Fuse;
using CsiDriver.Sessions;

namespace CsiDriver.Tests.Sessions;

/// <summary>The session holder's message format and the ticket csidriver stores with a session.</summary>
public sealed class HolderMessageTests
{
    [Fact]
    public void A_message_decodes_to_what_was_encoded()
    {
        var message = new HolderMessage(HolderMessageKind.Hold, "/var/lib/formation/attach/vol-ü", [1, 2, 3]);

        var decoded = HolderMessage.TryDecode(message.Encode());

        Assert.NotNull(decoded);
        Assert.Equal((message.Kind, message.Name), (decoded.Kind, decoded.Name));
        Assert.Equal(message.Ticket, decoded.Ticket);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 2, 1, 0, 0, 0, 0 })]
    [InlineData(new byte[] { 1, 9, 0, 0, 0, 0 })]
    [InlineData(new byte[] { 1, 1, 5, 0, 0, 0 })]
    [InlineData(new byte[] { 1, 1, 0, 0, 1, 0 })]
    [InlineData(new byte[] { 1, 1, 0, 0, 0, 0, 0 })]
    public void A_message_of_another_version_kind_or_length_is_not_taken_for_one(byte[] bytes) =>
        Assert.Null(HolderMessage.TryDecode(bytes));

    [Fact]
    public void A_ticket_round_trips_and_one_of_another_version_or_garbage_is_refused()
    {
        var ticket = new SessionTicket("vol-1", "/data/attach/vol-1", ReadOnly: true, Minor: 40, KernelResends: true);

        Assert.Equal(ticket, SessionTicket.Decode(ticket.Encode()));
        Assert.Null(SessionTicket.Decode((ticket with { Version = 2 }).Encode()));
        Assert.Null(SessionTicket.Decode("not json"u8));
        Assert.Null(SessionTicket.Decode("{}"u8));
    }
}
