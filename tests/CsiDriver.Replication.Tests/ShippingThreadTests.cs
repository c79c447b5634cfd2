using System.Globalization;

namespace CsiDriver.Replication.Tests;

/// <summary>
/// The shipping thread's rank (ShippingThread.cs): raised to nice -10 where the process may, and
/// where the kernel refuses (no CAP_SYS_NICE: an unprivileged plugin), shipping all the same at
/// the writers' rank, with the refusal and its cause told to the caller, which logs it. The
/// refusal is real: the thread that starts the shipper has CAP_SYS_NICE taken out of its
/// effective set for the moment it starts it (see <see cref="ThreadCapabilities"/>), so
/// setpriority fails in the kernel for the shipping thread it creates, and only for that one.
/// The test process runs as root, as the node plugin does, with an RLIMIT_NICE of 0 (the
/// default), which allows no raise of its own.
/// </summary>
public sealed class ShippingThreadTests
{
    [Fact]
    public async Task Without_CAP_SYS_NICE_the_shipper_runs_at_the_writers_rank_and_says_why()
    {
        var raised = await ShipFromThreadAsync(withoutSysNice: false);
        Assert.Equal((ShippingThread.Nice, (string?)null, true), raised);

        var refused = await ShipFromThreadAsync(withoutSysNice: true);
        Assert.Equal((0, "setpriority(-10) failed: Permission denied (errno 13)", true), refused);
    }

    /// <summary>Starts a shipper from a thread of its own (without CAP_SYS_NICE when asked);
    /// returns the shipping thread's nice value, the reason it was not raised, and whether it shipped.</summary>
    private static Task<(int Nice, string? NotRaised, bool Shipped)> ShipFromThreadAsync(bool withoutSysNice)
    {
        var result = new TaskCompletionSource<(int, string?, bool)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var starter = new Thread(() =>
        {
            try
            {
                var (nice, shipped) = (int.MinValue, false);
                string? notRaised = null;
                Task shipping;
                ThreadCapabilities.SetEffective(ThreadCapabilities.SysNice, !withoutSysNice);
                try
                {
                    shipping = ShippingThread.Run("test-shipper", () => (nice, shipped) = (NiceOfThisThread(), true), reason => notRaised = reason);
                }
                finally
                {
                    // Back at once: a thread pool worker this thread might create would inherit the lack.
                    ThreadCapabilities.SetEffective(ThreadCapabilities.SysNice, true);
                }
                shipping.Wait();
                result.SetResult((nice, notRaised, shipped));
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        });
        starter.Start();
        return result.Task;
    }

    /// <summary>Field 19 of /proc/thread-self/stat (after the name in parentheses, which may hold spaces).</summary>
    private static int NiceOfThisThread()
    {
        var stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[19 - 3], CultureInfo.InvariantCulture);
    }
}
