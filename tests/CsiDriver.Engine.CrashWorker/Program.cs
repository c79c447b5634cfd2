using System.Globalization;
using CsiDriver.Engine.CrashWorker;

// Usage: CsiDriver.Engine.CrashWorker <data directory> <seed> <next group index> <next solo index>
// Runs the crash workload until the test kills it.
if (args.Length != 4)
{
    Console.Error.WriteLine("usage: CsiDriver.Engine.CrashWorker <data directory> <seed> <next group index> <next solo index>");
    return 2;
}
var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
await CrashWorkload.RunAsync(
    args[0],
    int.Parse(args[1], CultureInfo.InvariantCulture),
    long.Parse(args[2], CultureInfo.InvariantCulture),
    long.Parse(args[3], CultureInfo.InvariantCulture),
    output);
return 0;
