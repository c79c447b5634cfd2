namespace CsiDriver.TestSupport.Consistency;

public enum ConsistencyProblemKind
{
    /// <summary>A slot holds neither zeroes nor an intact record of the expected side.</summary>
    Corrupt,
    /// <summary>A slot holds an older transaction (or nothing) where the device's newest
    /// transaction says a newer one was written: something written is missing.</summary>
    Gap,
    /// <summary>The mirror holds a transaction the primary does not: the pair was not copied at
    /// one point in time. This is the violation the workload's invariant forbids.</summary>
    MirrorAhead,
}

/// <param name="Side">The device the problem is on (the mirror for <see cref="ConsistencyProblemKind.MirrorAhead"/>).</param>
/// <param name="Slot">Ring slot, or -1 when the problem is not about one slot.</param>
public sealed record ConsistencyProblem(ConsistencyProblemKind Kind, TransactionSide Side, int Slot, string Detail)
{
    public override string ToString() => Slot < 0 ? $"{Kind} on {Side}: {Detail}" : $"{Kind} on {Side} slot {Slot}: {Detail}";
}

/// <summary>What <see cref="ConsistencyChecker"/> found in one pair of devices.</summary>
/// <param name="PrimaryHighest">Newest intact transaction on the primary (0: none).</param>
/// <param name="MirrorHighest">Newest intact transaction on the mirror (0: none).</param>
/// <param name="Problems">The first problems found, at most <see cref="ConsistencyChecker.MaxProblemsListed"/>.</param>
/// <param name="ProblemCount">All problems found, listed or not.</param>
public sealed record ConsistencyReport(long PrimaryHighest, long MirrorHighest, IReadOnlyList<ConsistencyProblem> Problems, int ProblemCount)
{
    public bool IsConsistent => ProblemCount == 0;

    public bool MirrorAhead => Problems.Any(p => p.Kind == ConsistencyProblemKind.MirrorAhead);

    public override string ToString() =>
        $"primary at {PrimaryHighest}, mirror at {MirrorHighest}: " +
        (IsConsistent ? "consistent" : $"{ProblemCount} problem(s): {string.Join("; ", Problems)}");
}
