namespace CsiDriver.Demo;

/// <summary>What `formation-demo` was asked for.</summary>
public sealed record DemoOptions
{
    /// <summary>The published csidriver executable the sites run.</summary>
    public required string CsiDriver { get; init; }

    /// <summary>Time the business process writes in the group-mode run (before and after
    /// replication is enabled); the per-volume contrast writes for half of it.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Orders per second the business process aims at (a steady, paced load).</summary>
    public int Rate { get; init; } = 50;

    /// <summary>One-way delay the link proxy adds between the sites.</summary>
    public TimeSpan LinkDelay { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>How far each link connection's delay swings towards the backup, out of step from
    /// one connection to the next (see <see cref="LinkProxy"/>).</summary>
    public TimeSpan Jitter { get; init; } = TimeSpan.FromMilliseconds(400);

    /// <summary>Leave the sites running at the end and print how to reach them.</summary>
    public bool Keep { get; init; }

    /// <summary>Directory for the sites' data, certificates, logs and the report.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Write raw block records through NBD even where the volumes could be mounted.</summary>
    public bool RawBlocks { get; init; }

    /// <summary>Backup snapshots checked in each mode (taken at random moments).</summary>
    public int SnapshotChecks { get; init; } = 4;
}
