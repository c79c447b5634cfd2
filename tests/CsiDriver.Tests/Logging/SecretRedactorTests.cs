using Csi.V1;
using CsiDriver.Logging;

namespace CsiDriver.Tests.Logging;

public class SecretRedactorTests
{
    [Fact]
    public void Secret_maps_are_emptied_and_other_fields_kept()
    {
        var request = new CreateVolumeRequest
        {
            Name = "orders",
            Secrets = { ["password"] = "s3cr3t-value" },
            Parameters = { ["csi.storage.k8s.io/pvc/name"] = "orders-db" },
        };

        var rendered = SecretRedactor.Render(request);

        Assert.DoesNotContain("s3cr3t-value", rendered);
        Assert.DoesNotContain("password", rendered);
        Assert.Contains("orders-db", rendered);
        Assert.Contains("orders", rendered);
        Assert.Equal("s3cr3t-value", request.Secrets["password"]);
    }

    [Fact]
    public void Secrets_nested_in_messages_are_emptied()
    {
        // NodeStageVolume carries secrets at the top level; ListSnapshots and the group
        // snapshot calls carry them too; the walk is the same at any depth.
        var request = new NodeStageVolumeRequest
        {
            VolumeId = "vol-1",
            Secrets = { ["token"] = "tok-123" },
            VolumeCapability = new VolumeCapability { Mount = new VolumeCapability.Types.MountVolume { FsType = "ext4" } },
        };

        var rendered = SecretRedactor.Render(request);

        Assert.DoesNotContain("tok-123", rendered);
        Assert.Contains("ext4", rendered);
    }
}
