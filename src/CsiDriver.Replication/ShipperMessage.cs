namespace Formation.SiteLink.V1;

/// <summary>The generated message, with the buffer its payloads point into when
/// <see cref="CsiDriver.Replication.ShipperMessageDecoder"/> decoded it.</summary>
public sealed partial class ShipperMessage
{
    /// <summary>A pooled buffer the updates' payloads are slices of; null when they own their
    /// bytes. Given back by <see cref="CsiDriver.Replication.ShipperMessageDecoder.Release"/>.</summary>
    internal byte[]? PayloadBuffer { get; set; }
}
