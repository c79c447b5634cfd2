using System.Runtime.InteropServices;

namespace CsiDriver.Replication;

/// <summary>
/// The thread a session streams journal batches from: one of its own, ranked above the threads
/// that write. Under full load a node's writers keep its CPU busy with 20–60 runnable threads
/// (NBD workers and connection threads, FUSE readers, thread-pool continuations), and the
/// scheduler shares a busy CPU per thread by weight; a shipper of the same weight gets a
/// sliver, sends a third of what is written, and the lag grows for as long as the load lasts.
/// Shipping needs a small fraction of the CPU the writes take, so ranking it higher costs the
/// writers that fraction and no more.
/// <para>Raising a thread above the default needs CAP_SYS_NICE (the node plugin runs as root)
/// or an RLIMIT_NICE that allows it; without either the thread ships at the writers' rank, as
/// it did before, and the caller is told why once.</para>
/// </summary>
internal static partial class ShippingThread
{
    /// <summary>Nice value of the shipping thread: a scheduler weight about 9× a default
    /// thread's, enough to hold its share against a few dozen runnable writers.</summary>
    public const int Nice = -10;

    private const int PriorityOfProcess = 0;

    /// <summary>Runs <paramref name="ship"/> on a new thread named <paramref name="name"/>,
    /// raised to <see cref="Nice"/>; <paramref name="notRaised"/> gets the reason when the
    /// raise is refused. The task ends as <paramref name="ship"/> does.</summary>
    public static Task Run(string name, Action ship, Action<string> notRaised)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            if (Raise() is { } refused)
            {
                notRaised(refused);
            }
            try
            {
                ship();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return done.Task;
    }

    /// <summary>Raises the calling thread (setpriority with a thread id changes only that
    /// thread on Linux); returns why not when refused.</summary>
    private static string? Raise()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "thread priorities are set on Linux only";
        }
        if (setpriority(PriorityOfProcess, (uint)gettid(), Nice) == 0)
        {
            return null;
        }
        var errno = Marshal.GetLastPInvokeError();
        return $"setpriority({Nice}) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setpriority(int which, uint who, int prio);

    [LibraryImport("libc")]
    private static partial int gettid();
}
