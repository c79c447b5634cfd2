using System.Globalization;
using CsiDriver.Engine.CrashWorker;

// Usage: CsiDriver.Engine.CrashWorker <data directory> <seed> <next index of each stream>...
// Runs the crash workload until the test kills it.
if (args.Length != 2 + CrashWorkload.Streams)
{
    Console.Error.WriteLine("usage: CsiDriver.Engine.CrashWorker <data directory> <seed> <next group index> <next solo index> <next replica batch>");
    return 2;
}
var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
await CrashWorkload.RunAsync(
    args[0],
    int.Parse(args[1], CultureInfo.InvariantCulture),
    args[2..].Select(a => long.Parse(a, CultureInfo.InvariantCulture)).ToArray(),
    output);
return 0;
