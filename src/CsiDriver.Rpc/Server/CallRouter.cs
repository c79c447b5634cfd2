using Microsoft.AspNetCore.Http;

namespace CsiDriver.Rpc.Server;

/// <summary>
/// Routes "/package.Service/Method" to its handler. Any other path still gets a gRPC answer
/// (UNIMPLEMENTED), never a bare HTTP 404, which grpc-go reports as a malformed response.
/// </summary>
internal sealed class CallRouter
{
    private readonly Dictionary<string, ServerCallHandler> _handlers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _services = new(StringComparer.Ordinal);
    private readonly CallSettings _settings;

    public CallRouter(IEnumerable<ServiceBinding> services, CallSettings settings)
    {
        _settings = settings;
        foreach (var service in services)
        {
            if (!_services.Add(service.Service.FullName))
            {
                throw new ArgumentException($"Service '{service.Service.FullName}' is bound twice.", nameof(services));
            }
            foreach (var (path, handler) in service.CreateHandlers(settings))
            {
                _handlers.Add(path, handler);
            }
        }
    }

    public Task RouteAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "/";
        return _handlers.TryGetValue(path, out var handler)
            ? handler.HandleAsync(http)
            : new UnimplementedServerCallHandler(path, _settings, DescribeUnknown(path)).HandleAsync(http);
    }

    private string DescribeUnknown(string path)
    {
        var slash = path.LastIndexOf('/');
        var service = slash > 0 ? path[1..slash] : path.TrimStart('/');
        return _services.Contains(service)
            ? $"Method '{path[(slash + 1)..]}' of service '{service}' is not implemented"
            : $"Service '{service}' is not implemented";
    }
}
