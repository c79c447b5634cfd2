using System.CommandLine;
using CsiDriver.TestSupport;
using CsiDriver.TestSupport.Consistency;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.Demo;

/// <summary>
/// `formation-demo check-consistency`: the atomicity checker as a tool. Reads two exports written by
/// the transaction workload (live volumes, clones of a group snapshot, replicas) over an NBD
/// socket and says whether together they are a state the workload really passed through.
/// Exit code 0: consistent; 1: not; 2: could not check.
/// </summary>
public static class CheckConsistencyCommand
{
    public static Command Build()
    {
        var socket = new Option<string>("--nbd-socket")
        {
            Description = "The driver's NBD unix socket (nbd.sock in its data directory)",
            Required = true,
        };
        var primary = new Option<string>("--primary") { Description = "Export (volume id) holding the primary records", Required = true };
        var mirror = new Option<string>("--mirror") { Description = "Export (volume id) holding the mirror records", Required = true };
        var slots = new Option<int>("--slots")
        {
            Description = "Records in the workload's ring (4 KiB each)",
            DefaultValueFactory = _ => 256,
        };
        var command = new Command("check-consistency", "Check that a primary/mirror pair of transaction logs is a state the workload passed through")
        {
            socket, primary, mirror, slots,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            try
            {
                await using var primaryDevice = await NbdBlockDevice.OpenAsync(result.GetValue(socket)!, result.GetValue(primary)!);
                await using var mirrorDevice = await NbdBlockDevice.OpenAsync(result.GetValue(socket)!, result.GetValue(mirror)!);
                var report = await ConsistencyChecker.CheckAsync(primaryDevice, mirrorDevice, new TransactionLayout(result.GetValue(slots)), cancellationToken);
                Console.WriteLine(report.IsConsistent ? "CONSISTENT" : "INCONSISTENT");
                Console.WriteLine(report);
                return report.IsConsistent ? 0 : 1;
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ArgumentException or TimeoutException)
            {
                Console.Error.WriteLine($"check-consistency: {e.Message}");
                return 2;
            }
        });
        return command;
    }
}
