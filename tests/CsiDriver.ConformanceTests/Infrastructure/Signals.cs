using System.Runtime.InteropServices;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>Sends POSIX signals: .NET's Process.Kill only sends SIGKILL, and the driver's
/// graceful stop is triggered by SIGTERM as kubelet's container runtime sends it.</summary>
public static partial class Signals
{
    public const int SigTerm = 15;

    public static void Send(int processId, int signal)
    {
        if (Kill(processId, signal) != 0)
        {
            throw new InvalidOperationException($"kill({processId}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int sig);
}
