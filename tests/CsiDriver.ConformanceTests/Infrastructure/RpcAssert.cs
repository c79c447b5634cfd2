using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>Asserts a call fails with a given gRPC status. Every failure must also carry a
/// human-readable message (spec: Error Scheme, "status message MUST contain a human readable
/// description of error").</summary>
public static class RpcAssert
{
    public static async Task<RpcException> FailsAsync(StatusCode expected, Func<Task> call) =>
        await FailsWithAnyAsync(call, expected);

    public static async Task<RpcException> FailsWithAnyAsync(Func<Task> call, params StatusCode[] allowed)
    {
        var failure = await Assert.ThrowsAnyAsync<RpcException>(call);
        Assert.True(allowed.Contains(failure.Status), $"expected status {string.Join(" or ", allowed)}, got {failure.Status}: {failure.Message}");
        Assert.False(string.IsNullOrWhiteSpace(failure.Message), $"status {failure.Status} came without a message");
        return failure;
    }
}
