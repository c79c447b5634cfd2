using System.CommandLine;
using CsiDriver.Csi;
using CsiDriver.Hosting;
using CsiDriver.Metrics;

namespace CsiDriver.Cli;

/// <summary>`csidriver serve`: runs the plugin until SIGTERM or SIGINT.</summary>
public static class ServeCommand
{
    public static Command Build()
    {
        var endpoint = new Option<string>("--endpoint")
        {
            Description = "CSI endpoint, e.g. unix:///var/lib/kubelet/plugins/formation.csi.dev/csi.sock",
            Required = true,
        };
        var nodeId = new Option<string>("--node-id")
        {
            Description = "This node's id as the CO knows it",
            DefaultValueFactory = _ => Environment.MachineName,
        };
        var dataDir = new Option<string>("--data-dir")
        {
            Description = "Directory holding the engine's volumes, journals and the driver's state database",
            Required = true,
        };
        var driverName = new Option<string>("--driver-name")
        {
            Description = "Name reported by GetPluginInfo",
            DefaultValueFactory = _ => DriverOptions.DefaultDriverName,
        };
        driverName.Validators.Add(r =>
        {
            if (!DriverNames.IsValid(r.GetValueOrDefault<string>()))
            {
                r.AddError($"--driver-name: '{r.GetValueOrDefault<string>()}' must be at most 63 characters of lowercase letters, digits, '-' and '.', beginning and ending with a letter or digit (e.g. formation.csi.dev)");
            }
        });
        var csiAddons = new Option<string?>("--csiaddons-endpoint")
        {
            Description = "csi-addons endpoint, e.g. unix:///csi/csi-addons.sock (off when absent)",
        };
        var logFormat = new Option<string>("--log-format")
        {
            Description = "Log format",
            DefaultValueFactory = _ => "text",
        };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var capacityLimit = new Option<string?>("--capacity-limit")
        {
            Description = "Most capacity to provision in all, e.g. 500Gi (default: bounded by --overcommit-ratio only)",
        };
        capacityLimit.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } text && !ByteSize.TryParse(text, out _))
            {
                r.AddError($"--capacity-limit: '{text}' is not a size such as 500Gi, 10G or 1048576");
            }
        });
        var overcommit = new Option<double>("--overcommit-ratio")
        {
            Description = "Volumes are thin: provision at most this many times the data file system's size, and its free space",
            DefaultValueFactory = _ => DriverOptions.DefaultOvercommitRatio,
        };
        overcommit.Validators.Add(r =>
        {
            var ratio = r.GetValueOrDefault<double>();
            if (!(ratio > 0) || double.IsInfinity(ratio))
            {
                r.AddError($"--overcommit-ratio: {ratio} must be a positive number such as 1 (no overcommit) or 10");
            }
        });
        var maxVolumes = new Option<long>("--max-volumes-per-node")
        {
            Description = "Most volumes this node may have published (0: no limit)",
        };

        var nbdEndpoint = new Option<string?>("--nbd-endpoint")
        {
            Description = "Where the engine serves volumes over NBD: unix:///path or tcp://127.0.0.1:port (default: nbd.sock in the data directory)",
        };
        var sessionHolder = new Option<string?>("--session-holder")
        {
            Description = "Unix socket of `csidriver session-holder`, which keeps the node's FUSE sessions so that pods' I/O survives a csidriver restart (off when absent)",
        };
        var kubeletDir = new Option<string>("--kubelet-dir")
        {
            Description = "Staging and target paths must lie under this directory",
            DefaultValueFactory = _ => "/var/lib/kubelet",
        };

        var siteLink = new SiteLinkOptions("host:port where the site link to the other site is served over mutual TLS (off when absent)");
        var siteLinkAdvertise = new Option<string?>("--site-link-advertise")
        {
            Description = "host:port the other site reaches this site link at (default: --site-link-address)",
        };
        siteLinkAdvertise.Validators.Add(r => HostPortFlag.Validate(r, "--site-link-advertise"));
        var controllerAddress = new Option<string?>("--controller-address")
        {
            Description = "host:port of the cluster controller's node link: register with it and serve it (off when absent: a standalone node)",
        };
        controllerAddress.Validators.Add(r => HostPortFlag.Validate(r, "--controller-address"));
        var nodeLink = new NodeLinkOptions("host:port where this node serves the node link to the controller (mutual TLS)", withAdvertise: true);
        var siteId = new Option<string?>("--site-id") { Description = "This site's name on the site link (default: the node id)" };
        var metricsAddress = new Option<string?>("--metrics-address")
        {
            Description = "Serve Prometheus metrics over HTTP at http://host:port/metrics, e.g. 127.0.0.1:9100 or :9100 (off when absent)",
        };
        metricsAddress.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } text && !MetricsAddress.TryParse(text, out _))
            {
                r.AddError($"--metrics-address: '{text}' is not host:port such as 127.0.0.1:9100, [::1]:9100 or :9100");
            }
        });

        var command = new Command("serve", "Serve the CSI (and csi-addons) services on unix sockets")
        {
            endpoint, nodeId, dataDir, driverName, csiAddons, nbdEndpoint, sessionHolder, kubeletDir, logFormat, capacityLimit, overcommit, maxVolumes,
            siteLinkAdvertise, siteId, metricsAddress, controllerAddress,
        };
        siteLink.AddTo(command);
        nodeLink.AddTo(command);
        command.Validators.Add(r =>
        {
            foreach (var problem in nodeLink.Problems(r, r.GetValue(controllerAddress) is null ? null : "--controller-address"))
            {
                r.AddError(problem);
            }
            if (nodeLink.IsGiven(r) && r.GetValue(controllerAddress) is null)
            {
                r.AddError("--node-link-address serves the cluster controller: it needs --controller-address");
            }
        });
        command.SetAction(async (result, cancellationToken) =>
        {
            var options = new DriverOptions
            {
                Endpoint = result.GetValue(endpoint)!,
                NodeId = result.GetValue(nodeId)!,
                DataDirectory = Path.GetFullPath(result.GetValue(dataDir)!),
                DriverName = result.GetValue(driverName)!,
                CsiAddonsEndpoint = result.GetValue(csiAddons),
                JsonLogs = result.GetValue(logFormat) == "json",
                CapacityLimitBytes = result.GetValue(capacityLimit) is { } limit ? ByteSize.Parse(limit) : null,
                OvercommitRatio = result.GetValue(overcommit),
                MaxVolumesPerNode = result.GetValue(maxVolumes),
                NbdEndpoint = result.GetValue(nbdEndpoint),
                SessionHolderSocket = result.GetValue(sessionHolder) is { } holder ? Path.GetFullPath(holder) : null,
                KubeletDirectory = Path.GetFullPath(result.GetValue(kubeletDir)!),
                SiteLinkAddress = result.GetValue(siteLink.Address),
                SiteLinkCertificate = result.GetValue(siteLink.Certificate),
                SiteLinkKey = result.GetValue(siteLink.Key),
                SiteLinkAuthority = result.GetValue(siteLink.Authority),
                SiteLinkServerName = result.GetValue(siteLink.ServerName),
                SiteLinkAdvertise = result.GetValue(siteLinkAdvertise),
                SiteId = result.GetValue(siteId),
                MetricsAddress = result.GetValue(metricsAddress),
                ControllerAddress = result.GetValue(controllerAddress),
                NodeLink = nodeLink.Load(result),
            };
            return await DriverHost.RunAsync(options, cancellationToken);
        });
        return command;
    }
}
