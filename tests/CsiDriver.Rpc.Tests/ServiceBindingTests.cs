using CsiDriver.Rpc.Tests.Echo;
using CsiDriver.Rpc.Tests.Support;

namespace CsiDriver.Rpc.Tests;

public class ServiceBindingTests
{
    private static readonly Task<EchoReply> Reply = Task.FromResult(new EchoReply());

    [Fact]
    public void Binds_methods_of_the_right_kind_and_types()
    {
        var binding = new ServiceBinding(EchoService.Descriptor)
            .Unary<EchoRequest, EchoReply>("Say", (_, _) => Reply)
            .ServerStreaming<EchoRequest, EchoReply>("Count", (_, _, _) => Task.CompletedTask)
            .DuplexStreaming<EchoRequest, EchoReply>("Chat", (_, _, _) => Task.CompletedTask);
        Assert.Same(EchoService.Descriptor, binding.Service);
    }

    [Fact]
    public void Unknown_method_is_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            new ServiceBinding(EchoService.Descriptor).Unary<EchoRequest, EchoReply>("Shout", (_, _) => Reply));
        Assert.Contains("no method 'Shout'", ex.Message);
    }

    [Fact]
    public void Wrong_streaming_kind_is_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            new ServiceBinding(EchoService.Descriptor).Unary<EchoRequest, EchoReply>("Count", (_, _) => Reply));
        Assert.Contains("server-streaming, not unary", ex.Message);
    }

    [Fact]
    public void Wrong_message_types_are_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            new ServiceBinding(EchoService.Descriptor).Unary<EchoRequest, EchoReply>("Fail", (_, _) => Reply));
        Assert.Contains("formation.test.FailRequest", ex.Message);
    }

    [Fact]
    public void Binding_a_method_twice_is_refused()
    {
        var binding = new ServiceBinding(EchoService.Descriptor).Unary<EchoRequest, EchoReply>("Say", (_, _) => Reply);
        Assert.Throws<ArgumentException>(() => binding.Unary<EchoRequest, EchoReply>("Say", (_, _) => Reply));
    }
}
