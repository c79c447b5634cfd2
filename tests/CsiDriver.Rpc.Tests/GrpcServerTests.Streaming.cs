using CsiDriver.Rpc.Tests.Echo;
using CsiDriver.Rpc.Tests.Support;

namespace CsiDriver.Rpc.Tests;

public partial class GrpcServerTests
{
    [Fact]
    public async Task Server_streaming_delivers_every_message_in_order()
    {
        var replies = new List<EchoReply>();
        await foreach (var reply in _client.ServerStreamingAsync<EchoRequest, EchoReply>(
                           EchoService.Method("Count"), new EchoRequest { Text = "tick", Count = 50 }))
        {
            replies.Add(reply);
        }
        Assert.Equal(Enumerable.Range(0, 50), replies.Select(r => r.Index));
        Assert.All(replies, r => Assert.Equal("tick", r.Text));
        var completion = await _server.WaitForCompletionAsync("/formation.test.Echo/Count");
        Assert.Equal(StatusCode.OK, completion.Status);
        Assert.Equal(new EchoRequest { Text = "tick", Count = 50 }, completion.Request);
    }

    [Fact]
    public async Task Server_streaming_with_no_messages_ends_ok()
    {
        var replies = new List<EchoReply>();
        await foreach (var reply in _client.ServerStreamingAsync<EchoRequest, EchoReply>(
                           EchoService.Method("Count"), new EchoRequest { Count = 0 }))
        {
            replies.Add(reply);
        }
        Assert.Empty(replies);
    }

    [Fact]
    public async Task Error_after_messages_arrives_in_trailers()
    {
        var replies = new List<EchoReply>();
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var reply in _client.ServerStreamingAsync<EchoRequest, EchoReply>(
                               EchoService.Method("Count"), new EchoRequest { Text = "fail-after", Count = 3 }))
            {
                replies.Add(reply);
            }
        });
        Assert.Equal(3, replies.Count);
        Assert.Equal(StatusCode.Aborted, ex.Status);
        Assert.Equal("stopped after the messages", ex.Message);
    }

    [Fact]
    public async Task Duplex_call_answers_each_message_as_it_comes()
    {
        await using var call = _client.Duplex<EchoRequest, EchoReply>(EchoService.Method("Chat"));
        await using var responses = call.ResponseStream.GetAsyncEnumerator();
        foreach (var word in new[] { "alpha", "beta", "gamma" })
        {
            // Each reply is read before the next request is written: the streams really interleave.
            await call.WriteAsync(new EchoRequest { Text = word });
            Assert.True(await responses.MoveNextAsync());
            Assert.Equal(word.ToUpperInvariant(), responses.Current.Text);
        }
        await call.CompleteAsync();
        Assert.False(await responses.MoveNextAsync());

        var completion = await _server.WaitForCompletionAsync("/formation.test.Echo/Chat");
        Assert.Equal(StatusCode.OK, completion.Status);
        Assert.Null(completion.Request);
    }

    [Fact]
    public async Task Client_streaming_collects_all_requests()
    {
        await using var call = _client.Duplex<EchoRequest, EchoReply>(EchoService.Method("Collect"));
        foreach (var word in new[] { "one", "two", "three" })
        {
            await call.WriteAsync(new EchoRequest { Text = word });
        }
        await call.CompleteAsync();
        var replies = new List<EchoReply>();
        await foreach (var reply in call.ResponseStream)
        {
            replies.Add(reply);
        }
        var single = Assert.Single(replies);
        Assert.Equal("one two three", single.Text);
        Assert.Equal(3, single.Index);
    }
}
