namespace CsiDriver.Engine.Tests;

/// <summary>Ids that say which node owns them: shape, CSI's 128-byte limit with Kubernetes'
/// 253-character node names, and rebasing onto another node.</summary>
public sealed class OwnedIdsTests
{
    private static readonly string LongestNodeName = string.Join('.', Enumerable.Repeat(new string('n', 62), 4)) + ".x";

    [Fact]
    public void A_new_id_ends_with_its_owner_and_is_a_valid_volume_id()
    {
        var id = OwnedIds.New("vol", "node-a");

        Assert.Matches("^vol-[0-9a-f]{20}_node-a$", id);
        Assert.True(VolumeIds.IsValid(id));
        Assert.Equal("node-a", OwnedIds.OwnerOf(id));
    }

    [Fact]
    public void A_standalone_node_s_ids_carry_no_owner()
    {
        var id = OwnedIds.New("snap", null);

        Assert.Matches("^snap-[0-9a-f]{20}$", id);
        Assert.Null(OwnedIds.OwnerOf(id));
    }

    [Fact]
    public void A_usual_node_name_is_its_own_owner_tag()
    {
        Assert.Equal("ip-10-0-1-17.eu-west-1.compute.internal", OwnedIds.OwnerTagOf("ip-10-0-1-17.eu-west-1.compute.internal"));
    }

    [Fact]
    public void The_longest_node_name_still_gives_ids_within_csi_s_limit()
    {
        Assert.Equal(253, LongestNodeName.Length);
        var owner = OwnedIds.OwnerTagOf(LongestNodeName);
        var id = OwnedIds.New("group", owner);

        Assert.Equal(OwnedIds.MaxOwnerLength, owner.Length);
        Assert.True(id.Length <= 128, $"{id.Length} bytes");
        Assert.True(VolumeIds.IsValid(id));
        Assert.Equal(owner, OwnedIds.OwnerOf(id));
    }

    [Fact]
    public void Long_names_sharing_a_prefix_get_different_tags_and_the_same_one_every_time()
    {
        var other = LongestNodeName[..^1] + "y";

        Assert.NotEqual(OwnedIds.OwnerTagOf(LongestNodeName), OwnedIds.OwnerTagOf(other));
        Assert.Equal(OwnedIds.OwnerTagOf(LongestNodeName), OwnedIds.OwnerTagOf(LongestNodeName));
    }

    [Theory]
    [InlineData("Node_With_Capitals")]
    [InlineData("node:7")]
    public void A_node_id_with_characters_ids_cannot_hold_is_hashed_into_a_plain_tag(string nodeId)
    {
        var owner = OwnedIds.OwnerTagOf(nodeId);

        Assert.Matches("^[a-z0-9.-]+$", owner);
        Assert.True(VolumeIds.IsValid(OwnedIds.New("vol", owner)));
    }

    [Fact]
    public void Rebasing_keeps_the_kind_and_random_part_and_takes_the_new_owner()
    {
        var id = OwnedIds.New("vg", "a1");

        var atB = OwnedIds.Rebase(id, "b2");

        Assert.Equal(id[..id.IndexOf('_')] + "_b2", atB);
        Assert.Equal(id, OwnedIds.Rebase(atB, "a1"));
        Assert.Equal(id[..id.IndexOf('_')], OwnedIds.Rebase(id, null));
    }

    [Theory]
    [InlineData("sales_group")]
    [InlineData("never-created-0123")]
    [InlineData("vol-0123_short")]
    [InlineData("VOL-00000000000000000000_a")]
    [InlineData("vol-00000000000000000000_")]
    public void A_string_of_another_shape_has_no_owner_and_is_never_rebased(string id)
    {
        Assert.Null(OwnedIds.OwnerOf(id));
        Assert.Equal(id, OwnedIds.Rebase(id, "b2"));
    }
}
