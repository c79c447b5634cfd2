using System.CommandLine;
using System.CommandLine.Parsing;
using CsiDriver.NodeLink;
using CsiDriver.Rpc;

namespace CsiDriver.Cli;

/// <summary>The node-link flags `serve` and `controller` share: where the link listens, the
/// address peers dial, its mutual-TLS files and the name its certificates carry.</summary>
public sealed class NodeLinkOptions
{
    private readonly Option<string?> _address;
    private readonly Option<string?> _advertise;
    private readonly Option<string?> _certificate = new("--node-link-cert") { Description = "PEM certificate presented on the node link (server and client use)" };
    private readonly Option<string?> _key = new("--node-link-key") { Description = "PEM private key of --node-link-cert" };
    private readonly Option<string?> _authority = new("--node-link-ca") { Description = "PEM CA bundle every node-link certificate must chain to" };
    private readonly Option<string> _serverName = new("--node-link-server-name")
    {
        Description = "DNS name every node-link certificate carries; each end checks the other's for it",
        DefaultValueFactory = _ => NodeLinkSettings.DefaultServerName,
    };

    public NodeLinkOptions(string addressDescription, bool withAdvertise)
    {
        _address = new Option<string?>("--node-link-address") { Description = addressDescription };
        _address.Validators.Add(r => HostPortFlag.Validate(r, "--node-link-address"));
        _advertise = new Option<string?>("--node-link-advertise")
        {
            Description = "host:port the controller dials to reach this node (default: --node-link-address)",
        };
        _advertise.Validators.Add(r => HostPortFlag.Validate(r, "--node-link-advertise"));
        WithAdvertise = withAdvertise;
    }

    private bool WithAdvertise { get; }

    public void AddTo(Command command)
    {
        command.Options.Add(_address);
        if (WithAdvertise)
        {
            command.Options.Add(_advertise);
        }
        command.Options.Add(_certificate);
        command.Options.Add(_key);
        command.Options.Add(_authority);
        command.Options.Add(_serverName);
    }

    public bool IsGiven(CommandResult result) => result.GetValue(_address) is not null;

    /// <summary>Errors for a link asked for (<paramref name="required"/>) or half configured.</summary>
    public IEnumerable<string> Problems(CommandResult result, string? required)
    {
        var files = new[] { _certificate, _key, _authority }.Select(o => result.GetValue(o)).ToList();
        if (required is not null && result.GetValue(_address) is null)
        {
            yield return $"{required} needs --node-link-address";
        }
        if (result.GetValue(_address) is not null && files.Any(f => f is null))
        {
            yield return "--node-link-address needs --node-link-cert, --node-link-key and --node-link-ca (the link is mutual TLS)";
        }
        var advertise = result.GetValue(_advertise) ?? result.GetValue(_address);
        if (WithAdvertise && advertise is not null && !Parse(advertise).IsDialable)
        {
            yield return $"--node-link-advertise is required when --node-link-address listens on every address ({advertise}): say how the controller reaches this node";
        }
    }

    /// <summary>The settings, with the TLS files read; null when the link is not asked for.</summary>
    public NodeLinkSettings? Load(ParseResult result)
    {
        if (result.GetValue(_address) is not { } address)
        {
            return null;
        }
        var listen = Parse(address);
        return new NodeLinkSettings
        {
            Listen = listen,
            Advertise = result.GetValue(_advertise) is { } advertise ? Parse(advertise) : listen,
            Tls = MutualTls.FromFiles(result.GetValue(_certificate)!, result.GetValue(_key)!, result.GetValue(_authority)!),
            ServerName = result.GetValue(_serverName)!,
        };
    }

    private static HostPort Parse(string text) => HostPort.Parse(text, "node-link address");
}
