using System.Buffers;
using System.IO.Pipelines;
using CsiDriver.Rpc.Protocol;
using CsiDriver.Rpc.Tests.Echo;
using Google.Protobuf;

namespace CsiDriver.Rpc.Tests;

public class MessageFramingTests
{
    private const int Max = 1024;

    [Fact]
    public void Frame_has_flag_zero_and_big_endian_length()
    {
        var message = new EchoReply { Text = "abc" };
        var frame = MessageFraming.ToFrame(message);
        Assert.Equal(0, frame[0]);
        Assert.Equal(new byte[] { 0, 0, 0, (byte)message.CalculateSize() }, frame[1..5]);
        Assert.Equal(message.ToByteArray(), frame[5..]);
    }

    [Fact]
    public void A_rented_frame_holds_the_same_bytes_as_a_fresh_one()
    {
        var message = new EchoReply { Text = new string('r', 5000), Index = 3 };
        var (buffer, length) = MessageFraming.RentFrame(message);
        try
        {
            Assert.Equal(MessageFraming.ToFrame(message), buffer[..length]);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [Fact]
    public async Task Frames_split_across_reads_are_reassembled()
    {
        var pipe = new Pipe();
        var first = new EchoReply { Text = "first", Index = 1 };
        var second = new EchoReply { Text = new string('x', 300), Index = 2 };
        var bytes = MessageFraming.ToFrame(first).Concat(MessageFraming.ToFrame(second)).ToArray();
        var writer = Task.Run(async () =>
        {
            // One byte per flush, so every header and payload straddles reads.
            foreach (var b in bytes)
            {
                await pipe.Writer.WriteAsync(new[] { b });
            }
            await pipe.Writer.CompleteAsync();
        });
        Assert.Equal(first, await Read(pipe.Reader));
        Assert.Equal(second, await Read(pipe.Reader));
        Assert.Null(await Read(pipe.Reader));
        await writer;
    }

    [Fact]
    public async Task Oversize_message_is_refused_from_its_header_alone()
    {
        var pipe = new Pipe();
        // Only the header: the reader must not wait for a payload it is going to refuse.
        await pipe.Writer.WriteAsync(new byte[] { 0, 0, 0, 0x04, 0x01 });
        var ex = await Assert.ThrowsAsync<RpcException>(() => Read(pipe.Reader).AsTask());
        Assert.Equal(StatusCode.ResourceExhausted, ex.Status);
        Assert.Contains("1025 vs. 1024", ex.Message);
    }

    [Fact]
    public async Task Compressed_flag_is_refused_with_a_clear_message()
    {
        var pipe = new Pipe();
        var frame = MessageFraming.ToFrame(new EchoReply { Text = "z" });
        frame[0] = 1;
        await pipe.Writer.WriteAsync(frame);
        var ex = await Assert.ThrowsAsync<RpcException>(() => Read(pipe.Reader).AsTask());
        Assert.Equal(StatusCode.Internal, ex.Status);
        Assert.Contains("compression is not supported", ex.Message);
    }

    [Fact]
    public async Task Invalid_flag_is_refused()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new byte[] { 7, 0, 0, 0, 0 });
        var ex = await Assert.ThrowsAsync<RpcException>(() => Read(pipe.Reader).AsTask());
        Assert.Equal(StatusCode.Internal, ex.Status);
    }

    [Theory]
    [InlineData(3)] // inside the header
    [InlineData(8)] // inside the payload
    public async Task Stream_ending_inside_a_frame_is_truncation(int keep)
    {
        var pipe = new Pipe();
        var frame = MessageFraming.ToFrame(new EchoReply { Text = "truncated!" });
        await pipe.Writer.WriteAsync(frame.AsMemory(0, keep));
        await pipe.Writer.CompleteAsync();
        var ex = await Assert.ThrowsAsync<RpcException>(() => Read(pipe.Reader).AsTask());
        Assert.Equal(StatusCode.Internal, ex.Status);
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void TryParse_reports_incomplete_until_the_whole_frame_is_there()
    {
        var frame = MessageFraming.ToFrame(new EchoReply { Text = "abc" });
        for (var length = 0; length < frame.Length; length++)
        {
            var status = MessageFraming.TryParse(new ReadOnlySequence<byte>(frame, 0, length), Max, out _, out _);
            Assert.Equal(MessageFraming.FrameStatus.Incomplete, status);
        }
        Assert.Equal(MessageFraming.FrameStatus.Complete,
            MessageFraming.TryParse(new ReadOnlySequence<byte>(frame), Max, out var payload, out var declared));
        Assert.Equal(frame.Length - MessageFraming.HeaderSize, declared);
        Assert.Equal(frame[5..], payload.ToArray());
    }

    [Fact]
    public async Task Empty_message_is_a_five_byte_frame()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(MessageFraming.ToFrame(new EchoReply()));
        await pipe.Writer.CompleteAsync();
        Assert.Equal(new EchoReply(), await Read(pipe.Reader));
        Assert.Null(await Read(pipe.Reader));
    }

    private static ValueTask<EchoReply?> Read(PipeReader reader) =>
        MessageFraming.ReadMessageAsync(reader, EchoReply.Parser, Max, CancellationToken.None);
}
