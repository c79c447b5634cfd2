using System.Security.Cryptography;
using System.Text;

namespace CsiDriver.Engine;

/// <summary>
/// Ids that say which node owns them. A node in a cluster ends every id it makes with
/// <c>_&lt;owner&gt;</c>, so a controller that has just started can route a call for any object
/// to its node, or name that node when it is down, without asking anyone. Shape:
/// <c>&lt;kind&gt;-&lt;20 hex&gt;[_&lt;owner&gt;]</c>; a standalone node makes ids without an owner.
/// The owner is the node id when that is at most <see cref="MaxOwnerLength"/> characters of
/// <c>[a-z0-9.-]</c> (every usual Kubernetes node name), otherwise a prefix and a hash of it, so
/// that the longest id ("group-", 20 hex, "_", 63) stays well under CSI's 128 bytes.
/// </summary>
public static class OwnedIds
{
    public const int MaxOwnerLength = 63;

    private const int RandomLength = 20;
    private const int HashedPrefixLength = MaxOwnerLength - 17;

    /// <summary>A new id of <paramref name="kind"/> ("vol", "snap", …), owned by <paramref name="owner"/> (null: none).</summary>
    public static string New(string kind, string? owner) =>
        WithOwner($"{kind}-{Guid.NewGuid().ToString("N")[..RandomLength]}", owner);

    /// <summary>The owner tag of a node id.</summary>
    public static string OwnerTagOf(string nodeId)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        if (nodeId.Length <= MaxOwnerLength && nodeId.All(IsPlainOwnerChar))
        {
            return nodeId;
        }
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(nodeId)))[..16];
        var prefix = new string(nodeId.Select(c => IsPlainOwnerChar(char.ToLowerInvariant(c)) ? char.ToLowerInvariant(c) : '-').Take(HashedPrefixLength).ToArray());
        return $"{prefix}-{hash}";
    }

    /// <summary>The owner an id carries; null for an id of another shape or without one.</summary>
    public static string? OwnerOf(string id) =>
        Split(id) is { Owner: { } owner } ? owner : null;

    /// <summary>
    /// The id a copy of <paramref name="id"/> has on the node owning <paramref name="owner"/>:
    /// the same kind and random part, that owner. An id of another shape (a name a user gave) is
    /// the same everywhere.
    /// </summary>
    public static string Rebase(string id, string? owner) =>
        Split(id) is { } parts ? WithOwner(parts.Base, owner) : id;

    private static string WithOwner(string baseId, string? owner) =>
        string.IsNullOrEmpty(owner) ? baseId : $"{baseId}_{owner}";

    /// <summary>An id of our shape split into its base and owner; null for any other string.</summary>
    private static (string Base, string? Owner)? Split(string id)
    {
        var underscore = id.IndexOf('_', StringComparison.Ordinal);
        var baseId = underscore < 0 ? id : id[..underscore];
        var dash = baseId.IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0 || baseId.Length - dash - 1 != RandomLength
            || !baseId[..dash].All(char.IsAsciiLetterLower) || !baseId[(dash + 1)..].All(char.IsAsciiHexDigitLower))
        {
            return null;
        }
        var owner = underscore < 0 ? null : id[(underscore + 1)..];
        return owner is "" ? null : (baseId, owner);
    }

    private static bool IsPlainOwnerChar(char c) => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.';
}
