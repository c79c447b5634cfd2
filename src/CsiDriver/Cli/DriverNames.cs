namespace CsiDriver.Cli;

/// <summary>The CSI spec's rule for plugin names: domain-name notation, at most 63
/// characters, starting and ending with an alphanumeric character.</summary>
public static class DriverNames
{
    public const int MaxLength = 63;

    public static bool IsValid(string? name) =>
        name is { Length: > 0 and <= MaxLength }
        && char.IsAsciiLetterOrDigit(name[0])
        && char.IsAsciiLetterOrDigit(name[^1])
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.');
}
