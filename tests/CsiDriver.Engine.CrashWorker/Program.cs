using System.Globalization;
using CsiDriver.Engine.CrashWorker;

// Usage: CsiDriver.Engine.CrashWorker <data directory> <seed> <next index of each stream>...
//    or: CsiDriver.Engine.CrashWorker ship <data directory> <seed>
//    or: CsiDriver.Engine.CrashWorker grow <data directory>
// Runs the crash workload (or the shipping or growing replica workload) until the test kills it.
var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
if (args is ["ship", var directory, var seed])
{
    await ShipWorkload.RunAsync(directory, int.Parse(seed, CultureInfo.InvariantCulture), output);
    return 0;
}
if (args is ["grow", var grown])
{
    await GrowWorkload.RunAsync(grown, output);
    return 0;
}
if (args.Length != 2 + CrashWorkload.Streams)
{
    Console.Error.WriteLine("usage: CsiDriver.Engine.CrashWorker <data directory> <seed> <next group index> <next solo index> <next replica batch>");
    return 2;
}
await CrashWorkload.RunAsync(
    args[0],
    int.Parse(args[1], CultureInfo.InvariantCulture),
    args[2..].Select(a => long.Parse(a, CultureInfo.InvariantCulture)).ToArray(),
    output);
return 0;
