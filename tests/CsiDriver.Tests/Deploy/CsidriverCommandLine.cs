using System.CommandLine;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace CsiDriver.Tests.Deploy;

/// <summary>What deploy/ may pass to csidriver by the cluster contract (Deploy/Contract/csidriver.yaml).</summary>
public sealed class CsidriverContract
{
    private static readonly Lazy<CsidriverContract> Loaded = new(() =>
        new DeserializerBuilder().WithNamingConvention(CamelCaseNamingConvention.Instance).Build()
            .Deserialize<CsidriverContract>(File.ReadAllText(Path.Combine(RepositoryPaths.DeployTestData, "Contract", "csidriver.yaml"))));

    public static CsidriverContract Instance => Loaded.Value;

    /// <summary>The image repository of csidriver.</summary>
    public string Image { get; set; } = "";

    /// <summary>For each socket a sidecar dials, the csidriver flag that serves it.</summary>
    public Dictionary<string, string> Sockets { get; set; } = [];

    /// <summary>By subcommand, flags whose value must be a field of the pod.</summary>
    public Dictionary<string, Dictionary<string, string>> ArgsFrom { get; set; } = [];

    /// <summary>By subcommand, its flags in the contract (for serve, those cluster mode adds).</summary>
    public Dictionary<string, List<string>> Commands { get; set; } = [];
}

/// <summary>
/// csidriver's own command line (the System.CommandLine definition the binary runs): what
/// deploy/ may pass to it is a subcommand's flags as the binary defines them.
/// </summary>
public static class CsidriverCommandLine
{
    private static RootCommand Root => CsiDriver.Cli.CommandLine.Build();

    public static bool Runs(Container container) => ImageReference.Repository(container.Image) == CsidriverContract.Instance.Image;

    /// <summary>A csidriver container serving CSI (controller or serve), not the node's session
    /// holder, which runs the same image.</summary>
    public static bool ServesCsi(Container container) => Runs(container) && container.Args.FirstOrDefault() != "session-holder";

    public static Command? Command(string name) => Root.Subcommands.SingleOrDefault(c => c.Name == name);

    /// <summary>The binary's flags of a subcommand, without leading dashes (aliases included).</summary>
    public static HashSet<string> FlagsOf(Command command) =>
        command.Options.SelectMany(o => o.Aliases.Append(o.Name)).Select(n => n.TrimStart('-')).ToHashSet(StringComparer.Ordinal);

    /// <summary>The path of the socket <paramref name="socket"/> (a name of the contract's
    /// sockets) that a csidriver container serves, or null.</summary>
    public static string? SocketPath(Container container, string socket) =>
        CsidriverContract.Instance.Sockets.TryGetValue(socket, out var flag)
            ? ContainerArgs.Find(ContainerArgs.Flags(container.Args.Skip(1), [], ""), flag)?.Value
            : null;

    /// <summary>The errors System.CommandLine reports for <paramref name="args"/>.</summary>
    public static IReadOnlyList<string> ParseErrors(IReadOnlyList<string> args) =>
        Root.Parse(args).Errors.Select(e => e.Message).ToList();
}
