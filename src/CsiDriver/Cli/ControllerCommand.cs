using System.CommandLine;
using CsiDriver.Controller;
using CsiDriver.Csi;
using CsiDriver.Hosting;
using CsiDriver.Replication;
using CsiDriver.Rpc;

namespace CsiDriver.Cli;

/// <summary>`csidriver controller`: the cluster's Controller, GroupController and csi-addons
/// services, routed to the nodes over the node link, until SIGTERM or SIGINT.</summary>
public static class ControllerCommand
{
    public static Command Build()
    {
        var endpoint = new Option<string>("--endpoint")
        {
            Description = "CSI endpoint for the controller sidecars, e.g. unix:///csi/csi.sock",
            Required = true,
        };
        var csiAddons = new Option<string?>("--csiaddons-endpoint")
        {
            Description = "csi-addons endpoint for the csi-addons sidecar, e.g. unix:///csi/csi-addons.sock (off when absent)",
        };
        var nodeTimeout = new Option<int>("--node-timeout-seconds")
        {
            Description = "A node whose registration is not renewed within this many seconds is down (nodes renew every third of it)",
            DefaultValueFactory = _ => 15,
        };
        nodeTimeout.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
            {
                r.AddError("--node-timeout-seconds must be at least 1");
            }
        });
        var driverName = new Option<string>("--driver-name")
        {
            Description = "Name reported by GetPluginInfo (the nodes' must match)",
            DefaultValueFactory = _ => DriverOptions.DefaultDriverName,
        };
        var logFormat = new Option<string>("--log-format") { Description = "Log format", DefaultValueFactory = _ => "text" };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var nodeLink = new NodeLinkOptions("host:port where nodes register (mutual TLS), e.g. 0.0.0.0:7600", withAdvertise: false);
        var siteLink = new SiteLinkOptions("host:port where the other cluster asks which node receives a replication (mutual TLS; off when absent)");

        var command = new Command("controller", "Serve the cluster's Controller, GroupController and csi-addons services, routing each call to the node that owns its volume")
        {
            endpoint, csiAddons, nodeTimeout, driverName, logFormat,
        };
        nodeLink.AddTo(command);
        siteLink.AddTo(command);
        command.Validators.Add(r =>
        {
            foreach (var problem in nodeLink.Problems(r, "csidriver controller"))
            {
                r.AddError(problem);
            }
        });
        command.SetAction(async (result, cancellationToken) =>
        {
            var siteLinkAddress = result.GetValue(siteLink.Address);
            var options = new ControllerOptions
            {
                Endpoint = result.GetValue(endpoint)!,
                CsiAddonsEndpoint = result.GetValue(csiAddons),
                NodeLink = nodeLink.Load(result)!,
                NodeTimeout = TimeSpan.FromSeconds(result.GetValue(nodeTimeout)),
                SiteLinkAddress = siteLinkAddress is null ? null : HostPort.Parse(siteLinkAddress, "--site-link-address"),
                SiteLinkTls = siteLinkAddress is null ? null
                    : SiteLinkTls.FromFiles(result.GetValue(siteLink.Certificate)!, result.GetValue(siteLink.Key)!, result.GetValue(siteLink.Authority)!),
                DriverName = result.GetValue(driverName)!,
                JsonLogs = result.GetValue(logFormat) == "json",
            };
            return await ControllerHost.RunAsync(options, cancellationToken);
        });
        return command;
    }
}
