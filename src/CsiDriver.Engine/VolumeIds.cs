namespace CsiDriver.Engine;

/// <summary>Rules every volume id obeys: ids become file names and NBD export names.</summary>
public static class VolumeIds
{
    /// <summary>Capacities and I/O are multiples of this many bytes.</summary>
    public const int BlockSize = 4096;

    public const int MaxLength = 128;

    public static bool IsValid(string id) =>
        id.Length is > 0 and <= MaxLength
        && id[0] != '.'
        && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    public static void Validate(string id)
    {
        if (!IsValid(id))
        {
            throw new ArgumentException($"volume id '{id}' must be 1-{MaxLength} characters of letters, digits, '-', '_' or '.', not starting with '.'", nameof(id));
        }
    }
}
