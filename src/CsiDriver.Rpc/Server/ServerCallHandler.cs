using CsiDriver.Rpc.Protocol;
using Microsoft.AspNetCore.Http;

namespace CsiDriver.Rpc.Server;

/// <summary>
/// What every method kind shares: refuse a request that is not gRPC over HTTP/2, run the call,
/// turn its outcome into one status, send it, and tell the observer once.
/// </summary>
internal abstract class ServerCallHandler
{
    /// <summary>What the client sees for an exception that is not an RpcException; nothing internal.</summary>
    public const string HandlerFailedMessage = "Exception was thrown by handler.";

    protected ServerCallHandler(string method, CallSettings settings)
    {
        Method = method;
        Settings = settings;
    }

    public string Method { get; }

    protected CallSettings Settings { get; }

    public async Task HandleAsync(HttpContext http)
    {
        if (!RejectNonGrpc(http))
        {
            return;
        }
        var time = Settings.TimeProvider;
        var started = time.GetTimestamp();
        using var call = new ServerCall(http, Method, Settings);
        StatusCode status;
        string? message;
        try
        {
            call.Initialize();
            await HandleCallAsync(call).ConfigureAwait(false);
            (status, message) = (StatusCode.OK, null);
        }
        catch (RpcException ex)
        {
            (status, message) = (ex.Status, ex.Message);
        }
        catch (Exception ex) when (call.DeadlineExceeded || call.ClientCancelled)
        {
            // The handler stopped because the call was cancelled; the status is decided below.
            RpcLog.HandlerStoppedByCancellation(Settings.Logger, Method, ex.GetType().Name);
            (status, message) = (StatusCode.Cancelled, null);
        }
        catch (Exception ex) when (Settings.TranslateException?.Invoke(ex) is { } translated)
        {
            (status, message) = (translated.Status, translated.Message);
        }
        catch (Exception ex)
        {
            RpcLog.HandlerFailed(Settings.Logger, Method, ex);
            (status, message) = (StatusCode.Internal, HandlerFailedMessage);
        }
        // The deadline wins over whatever the handler did after it passed: the client has gone.
        if (call.DeadlineExceeded)
        {
            (status, message) = (StatusCode.DeadlineExceeded, "Deadline exceeded");
        }
        else if (call.ClientCancelled)
        {
            (status, message) = (StatusCode.Cancelled, "Call cancelled by the client");
        }
        await call.CompleteAsync(status, message).ConfigureAwait(false);
        Notify(new CallCompletion(Method, status, message, time.GetElapsedTime(started), call.Request));
    }

    protected abstract Task HandleCallAsync(ServerCall call);

    /// <summary>Answers a plain HTTP error for anything that is not a gRPC request; true when it is one.</summary>
    private static bool RejectNonGrpc(HttpContext http)
    {
        var request = http.Request;
        var response = http.Response;
        if (!HttpProtocol.IsHttp2(request.Protocol))
        {
            response.StatusCode = StatusCodes.Status426UpgradeRequired;
            response.Headers.Connection = "Upgrade";
            response.Headers.Upgrade = "h2c";
            return false;
        }
        if (!HttpMethods.IsPost(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = HttpMethods.Post;
            return false;
        }
        if (!GrpcProtocol.IsGrpcContentType(request.ContentType))
        {
            response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return false;
        }
        return true;
    }

    private void Notify(CallCompletion completion)
    {
        try
        {
            Settings.OnCallCompleted?.Invoke(completion);
        }
        catch (Exception ex)
        {
            RpcLog.ObserverFailed(Settings.Logger, Method, ex);
        }
    }
}
