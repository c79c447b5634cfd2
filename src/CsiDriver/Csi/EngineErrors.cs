using CsiDriver.Engine;
using CsiDriver.Rpc;

namespace CsiDriver.Csi;

/// <summary>The one place where engine failures become gRPC statuses. Services hand it to their
/// <see cref="ServiceBinding.TranslateException"/>, so no handler wraps its own calls.</summary>
public static class EngineErrors
{
    public static RpcException ToRpc(EngineException e) => new(e switch
    {
        VolumeNotFoundException or SnapshotNotFoundException => StatusCode.NotFound,
        VolumeExistsException or SnapshotExistsException => StatusCode.AlreadyExists,
        ReadOnlyVolumeException => StatusCode.FailedPrecondition,
        Engine.OutOfRangeException => StatusCode.OutOfRange,
        InsufficientSpaceException => StatusCode.ResourceExhausted,
        CorruptionException => StatusCode.DataLoss,
        _ => StatusCode.Internal,
    }, e.Message);

    /// <summary>An engine failure's status; null for anything else (the server then answers
    /// INTERNAL and logs it).</summary>
    public static RpcException? Translate(Exception exception) =>
        exception is EngineException engine ? ToRpc(engine) : null;
}
