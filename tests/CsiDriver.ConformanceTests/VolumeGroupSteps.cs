using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.ConformanceTests;

/// <summary>The steps the volume-group tests share: volumes to group, groups under unique
/// names, a group's members as sorted ids, and a bounded walk through ListVolumeGroups.</summary>
public static class VolumeGroupSteps
{
    public static async Task<List<string>> CreateVolumesAsync(this CsiClient csi, int count)
    {
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            ids.Add((await csi.CreateAsync("vg-member")).VolumeId);
        }
        return ids;
    }

    public static CreateVolumeGroupRequest GroupRequest(params string[] volumeIds) =>
        new() { Name = Volumes.UniqueName("group"), VolumeIds = { volumeIds } };

    public static async Task<VolumeGroup> CreateGroupAsync(this CsiAddonsClient addons, params string[] volumeIds) =>
        (await addons.CreateVolumeGroup(GroupRequest(volumeIds))).VolumeGroup;

    public static async Task<VolumeGroup> GetGroupAsync(this CsiAddonsClient addons, string groupId) =>
        (await addons.ControllerGetVolumeGroup(new ControllerGetVolumeGroupRequest { VolumeGroupId = groupId })).VolumeGroup;

    public static Task<ModifyVolumeGroupMembershipResponse> SetMembersAsync(this CsiAddonsClient addons, string groupId, params string[] volumeIds) =>
        addons.ModifyVolumeGroupMembership(new ModifyVolumeGroupMembershipRequest { VolumeGroupId = groupId, VolumeIds = { volumeIds } });

    public static List<string> MemberIds(this VolumeGroup group) =>
        group.Volumes.Select(v => v.VolumeId).Order(StringComparer.Ordinal).ToList();

    public static List<string> Sorted(params string[] ids) => ids.Order(StringComparer.Ordinal).ToList();

    /// <summary>Every group ListVolumeGroups reports, following next_token (bounded).</summary>
    public static async Task<List<VolumeGroup>> ListAllGroupsAsync(this CsiAddonsClient addons, int pageSize = 0)
    {
        var groups = new List<VolumeGroup>();
        var token = "";
        for (var page = 0; page < 10_000; page++)
        {
            var response = await addons.ListVolumeGroups(new ListVolumeGroupsRequest { MaxEntries = pageSize, StartingToken = token });
            Assert.True(pageSize == 0 || response.Entries.Count <= pageSize, $"{response.Entries.Count} entries on a page of at most {pageSize}");
            groups.AddRange(response.Entries.Select(e => e.VolumeGroup));
            if (response.NextToken.Length == 0)
            {
                return groups;
            }
            token = response.NextToken;
        }
        Assert.Fail("ListVolumeGroups kept returning a next_token after 10000 pages");
        return groups;
    }
}
