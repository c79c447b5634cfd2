using Csi.V1;
using ControllerRpc = Csi.V1.ControllerServiceCapability.Types.RPC.Types.Type;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>What the driver advertises, for tests whose expected answer depends on it (the
/// spec ties several error codes to advertised capabilities).</summary>
public static class Capabilities
{
    public static async Task<bool> HasControllerCapabilityAsync(this CsiClient csi, ControllerRpc capability)
    {
        var response = await csi.ControllerGetCapabilities();
        return response.Capabilities.Any(c => c.Rpc is { } rpc && rpc.Type == capability);
    }
}
