using CsiDriver.Engine;
using CsiDriver.Rpc;

namespace CsiDriver.Csi;

/// <summary>The one place where engine failures become gRPC statuses.</summary>
public static class EngineErrors
{
    public static RpcException ToRpc(EngineException e) => new(e switch
    {
        VolumeNotFoundException => StatusCode.NotFound,
        VolumeExistsException => StatusCode.AlreadyExists,
        ReadOnlyVolumeException => StatusCode.FailedPrecondition,
        Engine.OutOfRangeException => StatusCode.OutOfRange,
        InsufficientSpaceException => StatusCode.ResourceExhausted,
        CorruptionException => StatusCode.DataLoss,
        _ => StatusCode.Internal,
    }, e.Message);

    /// <summary>Wraps a handler so that engine failures reach the caller with their status.</summary>
    public static UnaryHandler<TRequest, TResponse> Mapped<TRequest, TResponse>(UnaryHandler<TRequest, TResponse> handler) =>
        async (request, context) =>
        {
            try
            {
                return await handler(request, context);
            }
            catch (EngineException e)
            {
                throw ToRpc(e);
            }
        };
}
