using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.ConformanceTests;

/// <summary>Volume groups and their membership survive a restart of the driver, graceful or a
/// crash: the groups are rows in the state database, the membership is each engine volume's
/// consistency group in the engine's catalog.</summary>
public sealed class VolumeGroupRestartTests
{
    private static readonly DriverSettings Settings = new() { CsiAddons = true };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Groups_and_membership_survive_a_restart(bool crash)
    {
        using var workspace = DriverWorkspace.Create();
        CreateVolumeGroupRequest request;
        VolumeGroup before;
        List<string> ids;
        await using (var first = await DriverProcess.StartAsync(workspace, Settings))
        {
            using var addons = new CsiAddonsClient(workspace.CsiAddonsSocketPath);
            ids = await first.Csi.CreateVolumesAsync(3);
            request = VolumeGroupSteps.GroupRequest(ids[0], ids[1]);
            var group = (await addons.CreateVolumeGroup(request)).VolumeGroup;
            before = (await addons.SetMembersAsync(group.VolumeGroupId, ids[1], ids[2])).VolumeGroup;
            if (crash)
            {
                await first.CrashAsync();
            }
            else
            {
                await first.StopAsync();
            }
        }

        await using var second = await DriverProcess.StartAsync(workspace, Settings);
        using var restarted = new CsiAddonsClient(workspace.CsiAddonsSocketPath);
        Assert.Equal(before, await restarted.GetGroupAsync(before.VolumeGroupId));
        Assert.Equal(VolumeGroupSteps.Sorted(ids[1], ids[2]), before.MemberIds());
        Assert.Equal(before, Assert.Single(await restarted.ListAllGroupsAsync()));
        // The volume moved out before the restart is still free to group.
        Assert.Equal([ids[0]], (await restarted.CreateGroupAsync(ids[0])).MemberIds());
        await second.StopAsync();
    }

    [Fact]
    public async Task A_repeated_create_after_a_restart_returns_the_same_group()
    {
        using var workspace = DriverWorkspace.Create();
        CreateVolumeGroupRequest request;
        VolumeGroup created;
        await using (var first = await DriverProcess.StartAsync(workspace, Settings))
        {
            using var addons = new CsiAddonsClient(workspace.CsiAddonsSocketPath);
            var ids = await first.Csi.CreateVolumesAsync(2);
            request = VolumeGroupSteps.GroupRequest(ids[0], ids[1]);
            created = (await addons.CreateVolumeGroup(request)).VolumeGroup;
            await first.StopAsync();
        }

        await using var second = await DriverProcess.StartAsync(workspace, Settings);
        using var restarted = new CsiAddonsClient(workspace.CsiAddonsSocketPath);
        Assert.Equal(created, (await restarted.CreateVolumeGroup(request)).VolumeGroup);
        await second.StopAsync();
    }
}
