namespace CsiDriver.Rpc;

/// <summary>
/// A call ended with a non-OK status. Thrown by handlers to choose the status the client sees,
/// and by <see cref="GrpcClient"/> when the server answered with one.
/// </summary>
public class RpcException : Exception
{
    public RpcException(StatusCode status, string message)
        : base(message)
    {
        Status = status;
    }

    public StatusCode Status { get; }

    public override string ToString() => $"Status({Status}, \"{Message}\")";
}
