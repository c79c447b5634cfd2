using CsiDriver.Engine;

namespace CsiDriver.TestSupport.Consistency;

/// <summary>
/// Where transaction records live on a device: a ring of <see cref="Slots"/> record-sized slots
/// from offset 0, transaction n in slot (n − 1) mod Slots. The ring bounds what a checker reads
/// whatever the workload's length, while still holding the newest Slots transactions, enough to
/// see a gap or a mirror ahead of its primary.
/// </summary>
public sealed record TransactionLayout
{
    public TransactionLayout(int slots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 2);
        Slots = slots;
    }

    public int Slots { get; }

    /// <summary>Bytes a device needs to hold the ring.</summary>
    public long DeviceBytes => (long)Slots * TransactionRecord.Size;

    public int SlotOf(long transaction) => (int)((transaction - 1) % Slots);

    public long OffsetOf(long transaction) => (long)SlotOf(transaction) * TransactionRecord.Size;

    /// <summary>The transaction slot <paramref name="slot"/> must hold when the newest one written
    /// is <paramref name="highest"/>; 0 when the ring has not reached that slot yet.</summary>
    public long ExpectedIn(int slot, long highest)
    {
        if (highest < 1)
        {
            return 0;
        }
        var behind = ((highest - 1 - slot) % Slots + Slots) % Slots;
        return Math.Max(0, highest - behind);
    }

    public void RequireFits(IBlockDevice device)
    {
        if (device.Size < DeviceBytes)
        {
            throw new ArgumentException($"device '{device.Name}' holds {device.Size} bytes; a ring of {Slots} records needs {DeviceBytes}");
        }
    }
}
