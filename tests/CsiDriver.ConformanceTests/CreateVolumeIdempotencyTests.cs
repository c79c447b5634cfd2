using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>CreateVolume by name: a repeat with compatible arguments returns the same volume, an
/// incompatible one is ALREADY_EXISTS, and racing callers end with one volume.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class CreateVolumeIdempotencyTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    [Fact]
    public async Task The_same_request_twice_returns_the_same_volume()
    {
        var request = Volumes.Request(Volumes.UniqueName("twice"), Volumes.Mount("xfs"), requiredBytes: 16 * Volumes.MiB);
        request.Parameters["csi.storage.k8s.io/pvc/name"] = "orders";

        var first = (await Csi.CreateVolume(request)).Volume;
        var second = (await Csi.CreateVolume(request)).Volume;

        // spec: a volume "SHALL always report the same volume_context".
        Assert.Equal(first, second);
    }

    [Fact]
    public async Task A_repeat_whose_range_the_volume_satisfies_returns_the_same_volume()
    {
        // spec: CreateVolume — same name, "compatible with the specified capacity_range ...
        // the Plugin MUST reply 0 OK with the corresponding CreateVolumeResponse".
        var name = Volumes.UniqueName("compatible-range");
        var first = (await Csi.CreateVolume(Volumes.Request(name, requiredBytes: 16 * Volumes.MiB))).Volume;

        var second = (await Csi.CreateVolume(Volumes.Request(name, requiredBytes: 8 * Volumes.MiB, limitBytes: 32 * Volumes.MiB))).Volume;

        Assert.Equal(first.VolumeId, second.VolumeId);
        Assert.Equal(first.CapacityBytes, second.CapacityBytes);
    }

    [Fact]
    public async Task A_repeat_needing_more_capacity_already_exists()
    {
        var name = Volumes.UniqueName("bigger");
        await Csi.CreateVolume(Volumes.Request(name, requiredBytes: 16 * Volumes.MiB, limitBytes: 16 * Volumes.MiB));

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Csi.CreateVolume(Volumes.Request(name, requiredBytes: 32 * Volumes.MiB)));
    }

    [Fact]
    public async Task A_repeat_with_another_access_type_or_filesystem_already_exists()
    {
        var name = Volumes.UniqueName("other-capability");
        await Csi.CreateVolume(Volumes.Request(name, Volumes.Mount("ext4")));

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Csi.CreateVolume(Volumes.Request(name, Volumes.Block())));
        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Csi.CreateVolume(Volumes.Request(name, Volumes.Mount("xfs"))));
    }

    [Fact]
    public async Task Racing_creates_of_one_name_end_with_one_volume()
    {
        // spec: Concurrency — the plugin "MAY return" ABORTED to reject secondary calls.
        var request = Volumes.Request(Volumes.UniqueName("race"));
        var calls = Enumerable.Range(0, 8).Select(async _ =>
        {
            try
            {
                return (await Csi.CreateVolume(request)).Volume.VolumeId;
            }
            catch (RpcException e) when (e.Status == StatusCode.Aborted)
            {
                return null;
            }
        }).ToArray();

        var ids = (await Task.WhenAll(calls)).OfType<string>().Distinct().ToList();

        var winner = Assert.Single(ids);
        Assert.Equal(winner, (await Csi.CreateVolume(request)).Volume.VolumeId);
    }

    [Fact]
    public async Task A_name_is_free_again_once_its_volume_is_deleted()
    {
        var request = Volumes.Request(Volumes.UniqueName("reused"), requiredBytes: 8 * Volumes.MiB);
        var first = (await Csi.CreateVolume(request)).Volume;
        await Csi.DeleteVolume(first.VolumeId);

        var bigger = Volumes.Request(request.Name, requiredBytes: 16 * Volumes.MiB);
        var second = (await Csi.CreateVolume(bigger)).Volume;

        Assert.Equal(16 * Volumes.MiB, second.CapacityBytes);
    }
}
