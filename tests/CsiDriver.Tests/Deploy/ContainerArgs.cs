using System.Text.RegularExpressions;

namespace CsiDriver.Tests.Deploy;

/// <summary>A command-line flag as deploy/ writes it: <c>--name=value</c> or <c>--name</c>.</summary>
public sealed record Flag(string Name, string? Value)
{
    public override string ToString() => Value is null ? "--" + Name : $"--{Name}={Value}";
}

/// <summary>
/// A container's arguments read as the sidecars' Go flag packages and System.CommandLine read
/// them. deploy/ writes every flag with its value joined by '=': a value in an argument of its
/// own would be taken by Go's flag package as the end of the flags.
/// </summary>
public static partial class ContainerArgs
{
    /// <summary>The flags of <paramref name="args"/>; an argument that is not a flag is a problem.</summary>
    public static List<Flag> Flags(IEnumerable<string> args, List<string> problems, string owner)
    {
        var flags = new List<Flag>();
        foreach (var arg in args)
        {
            if (!arg.StartsWith('-'))
            {
                problems.Add($"{owner}: '{arg}' is not a flag; write --name=value");
                continue;
            }
            var text = arg.TrimStart('-');
            var equals = text.IndexOf('=', StringComparison.Ordinal);
            flags.Add(equals < 0 ? new Flag(text, null) : new Flag(text[..equals], text[(equals + 1)..]));
        }
        return flags;
    }

    public static Flag? Find(IEnumerable<Flag> flags, string name) => flags.LastOrDefault(f => f.Name == name);

    /// <summary>Whether a boolean flag is on: given bare or with a true value.</summary>
    public static bool IsOn(IEnumerable<Flag> flags, string name) =>
        Find(flags, name) is { } flag && (flag.Value is null || bool.TryParse(flag.Value, out var on) && on);

    /// <summary>The names of the variables <c>$(NAME)</c> the kubelet expands in <paramref name="text"/>
    /// (<c>$$(NAME)</c> is an escaped, literal one).</summary>
    public static IEnumerable<string> Expansions(string text) =>
        Expansion().Matches(text).Select(m => m.Groups[1].Value);

    /// <summary><paramref name="text"/> with each <c>$(NAME)</c> replaced by <paramref name="value"/>'s answer.</summary>
    public static string Expand(string text, Func<string, string> value) =>
        Expansion().Replace(text, m => value(m.Groups[1].Value));

    /// <summary>The feature gates of a <c>--feature-gates=A=true,B=false</c> value.</summary>
    public static Dictionary<string, string> FeatureGates(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "", StringComparer.Ordinal);

    [GeneratedRegex(@"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex Expansion();
}
