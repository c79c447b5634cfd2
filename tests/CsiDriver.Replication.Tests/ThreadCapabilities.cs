using System.Runtime.InteropServices;

namespace CsiDriver.Replication.Tests;

/// <summary>
/// The calling thread's capabilities. Linux keeps them per thread (capset without a pid changes
/// the caller only; glibc does not spread it to the process's other threads), and a thread
/// starts with its creator's, so a test can take one away from the threads it starts and
/// leave the rest of the test process as it was.
/// </summary>
internal static partial class ThreadCapabilities
{
    /// <summary>Raising a thread's scheduling priority (lowering its nice value).</summary>
    public const int SysNice = 23;

    /// <summary>_LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.</summary>
    private const uint Version3 = 0x20080522;

    /// <summary>Sets whether <paramref name="capability"/> is effective on the calling thread; it
    /// stays permitted, so it can be made effective again.</summary>
    public static void SetEffective(int capability, bool effective)
    {
        var header = new Header { Version = Version3 };
        var data = new Data[2];
        Check(Capget(ref header, data), "capget");
        var bit = 1u << (capability % 32);
        data[capability / 32].Effective = effective ? data[capability / 32].Effective | bit : data[capability / 32].Effective & ~bit;
        Check(Capset(ref header, data), "capset");
    }

    private static void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new InvalidOperationException($"{call} failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Header
    {
        public uint Version;
        public int Pid;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Data
    {
        public uint Effective;
        public uint Permitted;
        public uint Inheritable;
    }

    [LibraryImport("libc", EntryPoint = "capget", SetLastError = true)]
    private static partial int Capget(ref Header header, [Out] Data[] data);

    [LibraryImport("libc", EntryPoint = "capset", SetLastError = true)]
    private static partial int Capset(ref Header header, Data[] data);
}
