using CsiDriver.Rpc.Protocol;
using Microsoft.AspNetCore.Http;

namespace CsiDriver.Rpc.Server;

/// <summary>Splits request headers into the caller's text and binary metadata.</summary>
internal static class RequestMetadata
{
    public static (IReadOnlyDictionary<string, string> Text, IReadOnlyDictionary<string, byte[]> Binary) Parse(IHeaderDictionary headers)
    {
        var text = new Dictionary<string, string>(StringComparer.Ordinal);
        var binary = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (rawName, values) in headers)
        {
            var name = rawName.ToLowerInvariant();
            if (GrpcProtocol.IsReservedHeader(name))
            {
                continue;
            }
            if (name.EndsWith(GrpcProtocol.BinaryHeaderSuffix, StringComparison.Ordinal))
            {
                binary[name] = DecodeBinary(name, values.ToString());
            }
            else
            {
                text[name] = string.Join(',', values.ToArray());
            }
        }
        return (text, binary);
    }

    /// <summary>Binary values may come with or without base64 padding; repeated values are comma-separated.</summary>
    private static byte[] DecodeBinary(string name, string value)
    {
        var parts = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var decoded = new List<byte>();
        foreach (var part in parts)
        {
            var padded = part.PadRight(part.Length + ((4 - (part.Length % 4)) % 4), '=');
            try
            {
                decoded.AddRange(Convert.FromBase64String(padded));
            }
            catch (FormatException)
            {
                throw new RpcException(StatusCode.Internal, $"Binary metadata '{name}' is not valid base64");
            }
        }
        return decoded.ToArray();
    }
}
