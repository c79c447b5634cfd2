using CsiDriver.Engine;

namespace CsiDriver.TestSupport.Consistency;

/// <summary>
/// Reads a primary and a mirror device written by <see cref="TransactionWorkload"/> (live
/// volumes, snapshots, clones or replicas) and reports whether together they are a state the
/// workload really passed through: every record intact, each device holding the unbroken run of
/// transactions up to its newest (as far as the ring reaches back), and the mirror not ahead of
/// the primary.
/// </summary>
public static class ConsistencyChecker
{
    public const int MaxProblemsListed = 32;

    /// <summary>Slots read per device request: large reads, bounded memory.</summary>
    private const int SlotsPerRead = 64;

    public static async Task<ConsistencyReport> CheckAsync(IBlockDevice primary, IBlockDevice mirror, TransactionLayout layout, CancellationToken cancellationToken = default)
    {
        layout.RequireFits(primary);
        layout.RequireFits(mirror);
        var primaryScan = await ScanAsync(primary, TransactionSide.Primary, layout, cancellationToken);
        var mirrorScan = await ScanAsync(mirror, TransactionSide.Mirror, layout, cancellationToken);
        var problems = new List<ConsistencyProblem>();
        if (mirrorScan.Highest > primaryScan.Highest)
        {
            problems.Add(new ConsistencyProblem(ConsistencyProblemKind.MirrorAhead, TransactionSide.Mirror, -1,
                $"mirror holds transaction {mirrorScan.Highest}, primary only up to {primaryScan.Highest}"));
        }
        var all = problems.Concat(primaryScan.Problems(layout)).Concat(mirrorScan.Problems(layout)).ToList();
        return new ConsistencyReport(primaryScan.Highest, mirrorScan.Highest, all.Take(MaxProblemsListed).ToArray(), all.Count);
    }

    private static async Task<DeviceScan> ScanAsync(IBlockDevice device, TransactionSide side, TransactionLayout layout, CancellationToken cancellationToken)
    {
        var scan = new DeviceScan(side, new long[layout.Slots], new bool[layout.Slots]);
        var buffer = new byte[SlotsPerRead * TransactionRecord.Size];
        for (var first = 0; first < layout.Slots; first += SlotsPerRead)
        {
            var count = Math.Min(SlotsPerRead, layout.Slots - first);
            var chunk = buffer.AsMemory(0, count * TransactionRecord.Size);
            await device.ReadAsync((long)first * TransactionRecord.Size, chunk, cancellationToken);
            for (var i = 0; i < count; i++)
            {
                var slot = first + i;
                var state = TransactionRecord.TryParse(chunk.Span.Slice(i * TransactionRecord.Size, TransactionRecord.Size), out var record);
                if (state == RecordState.Valid && record.Side == side && layout.SlotOf(record.Transaction) == slot)
                {
                    scan.Found[slot] = record.Transaction;
                }
                else if (state != RecordState.Empty)
                {
                    scan.Corrupt[slot] = true;
                }
            }
        }
        return scan;
    }

    /// <summary>Per slot of one device: the intact transaction found (0: none) or corruption.</summary>
    private sealed record DeviceScan(TransactionSide Side, long[] Found, bool[] Corrupt)
    {
        public long Highest => Found.Max();

        public IEnumerable<ConsistencyProblem> Problems(TransactionLayout layout)
        {
            var highest = Highest;
            for (var slot = 0; slot < Found.Length; slot++)
            {
                var expected = layout.ExpectedIn(slot, highest);
                if (Corrupt[slot])
                {
                    yield return new ConsistencyProblem(ConsistencyProblemKind.Corrupt, Side, slot,
                        expected == 0 ? "damaged block where nothing was written yet" : $"damaged block where transaction {expected} belongs");
                }
                else if (Found[slot] != expected)
                {
                    yield return new ConsistencyProblem(ConsistencyProblemKind.Gap, Side, slot,
                        Found[slot] == 0 ? $"transaction {expected} missing" : $"transaction {expected} missing, slot still holds {Found[slot]}");
                }
            }
        }
    }
}
