using System.CommandLine;
using System.CommandLine.Parsing;

namespace CsiDriver.Cli;

/// <summary>The site-link flags `serve` and `controller` share: where the link to the other
/// site listens, its mutual-TLS files, and the name peers' certificates carry.</summary>
public sealed class SiteLinkOptions
{
    public SiteLinkOptions(string addressDescription)
    {
        Address = new Option<string?>("--site-link-address") { Description = addressDescription };
        Address.Validators.Add(r => HostPortFlag.Validate(r, "--site-link-address"));
    }

    public Option<string?> Address { get; }

    public Option<string?> Certificate { get; } = new("--site-link-cert") { Description = "PEM certificate this site presents on the site link" };

    public Option<string?> Key { get; } = new("--site-link-key") { Description = "PEM private key of --site-link-cert" };

    public Option<string?> Authority { get; } = new("--site-link-ca") { Description = "PEM CA bundle the other site's certificate must chain to" };

    public Option<string?> ServerName { get; } = new("--site-link-server-name")
    {
        Description = "DNS name the other site's certificates carry, checked instead of its address (default: the address is checked)",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Address);
        command.Options.Add(Certificate);
        command.Options.Add(Key);
        command.Options.Add(Authority);
        command.Options.Add(ServerName);
        command.Validators.Add(Validate);
    }

    private void Validate(CommandResult result)
    {
        var tls = new[] { Certificate, Key, Authority }.Select(o => result.GetValue(o)).ToList();
        if (tls.Any(f => f is not null) && tls.Any(f => f is null))
        {
            result.AddError("--site-link-cert, --site-link-key and --site-link-ca go together");
        }
        if (result.GetValue(Address) is not null && tls.Any(f => f is null))
        {
            result.AddError("--site-link-address needs --site-link-cert, --site-link-key and --site-link-ca (the link is mutual TLS)");
        }
    }
}
