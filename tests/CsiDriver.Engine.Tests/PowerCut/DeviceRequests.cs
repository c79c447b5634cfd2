namespace CsiDriver.Engine.Tests.PowerCut;

/// <summary>
/// What a <see cref="PowerCutDisk"/> was asked between power-on and the cut, read from nbdkit's
/// log filter (one line per request and one per reply, written before the reply is sent).
/// </summary>
/// <param name="Writes">Writes and write-zeroes the disk acknowledged.</param>
/// <param name="Flushes">Flushes the disk completed.</param>
/// <param name="UnflushedWrites">Writes acknowledged after the last completed flush began: at
/// most these were lost by the cut (a flush writes back everything the cache holds when it runs).</param>
/// <param name="Trims">TRIM requests: the cache filter passes them straight to the backing file,
/// which the power-cut model does not describe; a cut is only faithful when there were none.</param>
internal sealed record DeviceRequests(long Writes, long Flushes, long UnflushedWrites, long Trims)
{
    public static DeviceRequests Read(string log)
    {
        long writes = 0, flushes = 0, trims = 0;
        long covered = 0; // writes acknowledged before a completed flush began: durable
        var flushesBegun = new Dictionary<string, long>(); // connection and id → writes acknowledged before it began
        foreach (var line in File.ReadLines(log))
        {
            var fields = line.Split(' ');
            if (fields.Length < 5 || !fields[2].StartsWith("connection=", StringComparison.Ordinal))
            {
                continue;
            }
            var request = fields[2] + " " + fields[4];
            switch (fields[3])
            {
                case "...Write" or "...Zero" when line.EndsWith("return=0", StringComparison.Ordinal):
                    writes++;
                    break;
                case "Flush":
                    flushesBegun[request] = writes;
                    break;
                case "...Flush" when line.EndsWith("return=0", StringComparison.Ordinal) && flushesBegun.Remove(request, out var before):
                    flushes++;
                    covered = Math.Max(covered, before);
                    break;
                case "Trim":
                    trims++;
                    break;
            }
        }
        return new DeviceRequests(writes, flushes, writes - covered, trims);
    }

    public override string ToString() =>
        $"{Writes} writes, {Flushes} flushes, {UnflushedWrites} writes not covered by a flush, {Trims} trims";
}
