using Microsoft.Extensions.Logging;

namespace CsiDriver.Engine;

/// <summary>Everything the engine logs, in one place.</summary>
internal static partial class EngineLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "Journal {Journal}: replayed {Records} records ({Bytes} bytes) after checkpoint {Checkpoint}; last sequence {Last}")]
    public static partial void JournalReplayed(ILogger logger, string journal, long records, long bytes, long checkpoint, long last);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
        Message = "Journal {Journal}: cut {Bytes} bytes off the tail after sequence {Last}: {Reason}")]
    public static partial void JournalTailCut(ILogger logger, string journal, long bytes, long last, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug,
        Message = "Checkpoint written: {Journals} journals, {Layers} data files synced, {Maps} chunk maps, writers paused {PauseMicros} µs")]
    public static partial void CheckpointWritten(ILogger logger, int journals, int layers, int maps, long pauseMicros);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning,
        Message = "Journal {Journal}: retention budget of {Budget} bytes exceeded; consumer {Consumer} at {Position} is overrun (records through {Released} released)")]
    public static partial void ConsumerOverrun(ILogger logger, string journal, long budget, string consumer, long position, long released);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "Background checkpoint failed")]
    public static partial void CheckpointFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "Removed {Count} leftover files of unfinished operations")]
    public static partial void OrphansRemoved(ILogger logger, int count);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning,
        Message = "Checkpoint deferred: {Reason}; the journals keep everything it would have covered until one succeeds")]
    public static partial void CheckpointDeferred(ILogger logger, string reason);
}
