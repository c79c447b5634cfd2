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
        var kubeletDir = new Option<string>("--kubelet-dir")
        {
            Description = "Staging and target paths must lie under this directory",
            DefaultValueFactory = _ => "/var/lib/kubelet",
        };

        var siteLinkAddress = new Option<string?>("--site-link-address")
        {
            Description = "host:port where the site link to the other site is served over mutual TLS (off when absent)",
        };
        siteLinkAddress.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } text)
            {
                try
                {
                    Replication.SiteLinkAddress.Parse(text);
                }
                catch (FormatException e)
                {
                    r.AddError($"--site-link-address: {e.Message}");
                }
            }
        });
        var siteLinkCert = new Option<string?>("--site-link-cert") { Description = "PEM certificate this site presents on the site link" };
        var siteLinkKey = new Option<string?>("--site-link-key") { Description = "PEM private key of --site-link-cert" };
        var siteLinkCa = new Option<string?>("--site-link-ca") { Description = "PEM CA bundle the other site's certificate must chain to" };
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
            endpoint, nodeId, dataDir, driverName, csiAddons, nbdEndpoint, kubeletDir, logFormat, capacityLimit, overcommit, maxVolumes,
            siteLinkAddress, siteLinkCert, siteLinkKey, siteLinkCa, siteId,
            metricsAddress,
        };
        command.Validators.Add(r =>
        {
            var tls = new[] { siteLinkCert, siteLinkKey, siteLinkCa }.Select(o => r.GetValue(o)).ToList();
            if (tls.Any(f => f is not null) && tls.Any(f => f is null))
            {
                r.AddError("--site-link-cert, --site-link-key and --site-link-ca go together");
            }
            if (r.GetValue(siteLinkAddress) is not null && tls.Any(f => f is null))
            {
                r.AddError("--site-link-address needs --site-link-cert, --site-link-key and --site-link-ca (the link is mutual TLS)");
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
                KubeletDirectory = Path.GetFullPath(result.GetValue(kubeletDir)!),
                SiteLinkAddress = result.GetValue(siteLinkAddress),
                SiteLinkCertificate = result.GetValue(siteLinkCert),
                SiteLinkKey = result.GetValue(siteLinkKey),
                SiteLinkAuthority = result.GetValue(siteLinkCa),
                SiteId = result.GetValue(siteId),
                MetricsAddress = result.GetValue(metricsAddress),
            };
            return await DriverHost.RunAsync(options, cancellationToken);
        });
        return command;
    }
}
