using Csi.V1;
using CsiDriver.Demo.Shop;

namespace CsiDriver.Demo;

/// <summary>The shop's volumes at the main site: the consistency group (a csi-addons volume
/// group) and its two volumes, with their mount paths when mounted.</summary>
public sealed record ShopVolumes(string GroupId, string SalesId, string StockId, VolumeCapability Capability, string? SalesMount, string? StockMount)
{
    public const string Pod = "shop";
    public const string AnalyticsPod = "analytics";
    public const long SizeBytes = 128L << 20;

    public bool Mounted => SalesMount is not null;

    public IReadOnlyList<string> VolumeIds => [SalesId, StockId];

    public static VolumeCapability CapabilityFor(bool mount)
    {
        var capability = new VolumeCapability
        {
            AccessMode = new VolumeCapability.Types.AccessMode { Mode = VolumeCapability.Types.AccessMode.Types.Mode.SingleNodeWriter },
        };
        // access_type is a oneof: set exactly one member (assigning null to the other clears it).
        if (mount)
        {
            capability.Mount = new VolumeCapability.Types.MountVolume { FsType = "ext4" };
        }
        else
        {
            capability.Block = new VolumeCapability.Types.BlockVolume();
        }
        return capability;
    }
}

/// <summary>The two sites of one run, the link between them, and the shop running at the main.</summary>
public sealed class ShopDeployment
{
    public required SiteProcess Main { get; init; }

    public required SiteProcess Backup { get; init; }

    /// <summary>Where the main site reaches the backup's site link (through the delay proxy).</summary>
    public string? PeerAddress { get; init; }

    public LinkProxy? Proxy { get; init; }

    public MetricsReader? MainMetrics { get; init; }

    private (ShopVolumes Volumes, IBusinessProcess Business, Watched Watched)? _shop;

    /// <summary>Whether the set-up step made the volumes and opened the business process.</summary>
    public bool IsSetUp => _shop is not null;

    public ShopVolumes Volumes => SetUp.Volumes;

    public IBusinessProcess Business => SetUp.Business;

    public Watched Watched => SetUp.Watched;

    public Task<Exception?> Running { get; set; } = Task.FromResult<Exception?>(null);

    public CancellationTokenSource StopBusiness { get; } = new();

    public void Open(ShopVolumes volumes, IBusinessProcess business) =>
        _shop = (volumes, business, new Watched(business, Main, MainMetrics, volumes.GroupId, volumes.VolumeIds));

    private (ShopVolumes Volumes, IBusinessProcess Business, Watched Watched) SetUp =>
        _shop ?? throw new InvalidOperationException("the shop is not set up yet");
}
