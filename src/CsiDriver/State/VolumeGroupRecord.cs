namespace CsiDriver.State;

/// <summary>
/// A csi-addons volume group: the name it was created under and its parameters. Its id is also
/// the name of the engine consistency group its volumes share. Membership is not stored here:
/// it is each engine volume's <c>ConsistencyGroup</c> (see <see cref="StateStore"/>'s
/// volume-group invariant). <see cref="PendingVolumeIds"/> is the create request's volume list
/// while that create has not finished moving them in; null once it has.
/// </summary>
public sealed record VolumeGroupRecord(
    string Id,
    string Name,
    IReadOnlyDictionary<string, string> Parameters,
    IReadOnlyList<string>? PendingVolumeIds,
    DateTimeOffset CreatedAt);
