using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>Asserts a call fails with a given gRPC status. Every failure must also carry a
/// human-readable message (spec: Error Scheme, "status message MUST contain a human readable
/// description of error").</summary>
public static class RpcAssert
{
    public static async Task<RpcException> FailsAsync(StatusCode expected, Func<Task> call)
    {
        var failure = await Assert.ThrowsAnyAsync<RpcException>(call);
        Assert.True(failure.Status == expected, $"expected status {expected}, got {failure.Status}: {failure.Message}");
        Assert.False(string.IsNullOrWhiteSpace(failure.Message), $"status {failure.Status} came without a message");
        return failure;
    }
}
