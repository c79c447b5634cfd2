using System.Collections;
using System.Text;
using CsiDriver.Logging;
using CsiDriver.Rpc;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CsiDriver.Csi;

/// <summary>
/// The CSI spec's size limits ("Size Limits"), checked on every request before its handler:
/// a string at most 128 bytes, a map&lt;string, string&gt; at most 4 KiB (keys and values
/// together), with the spec's overrides: node_id at most 256 bytes, a node path (staging,
/// target or volume path) up to the system's PATH_MAX of 4096 bytes (the spec asks for at
/// least 128), and mount_flags at most 4 KiB in all. Nested messages are checked at any depth.
/// A field past its limit is INVALID_ARGUMENT naming the field and its size, never its value,
/// so nothing unbounded is stored, echoed or logged.
/// </summary>
public sealed class RequestSizeLimits
{
    private const int StringBytes = 128;
    private const int MapBytes = 4096;
    private const int NodeIdBytes = 256;
    private const int PathBytes = 4096;
    private const int MountFlagsBytes = 4096;

    private static readonly HashSet<string> PathFields = ["staging_target_path", "target_path", "volume_path"];

    private readonly int _secretMapBytes;

    private RequestSizeLimits(int secretMapBytes) => _secretMapBytes = secretMapBytes;

    /// <summary>The limits of the CSI spec, secrets included.</summary>
    public static RequestSizeLimits Csi { get; } = new(MapBytes);

    /// <summary>
    /// The same limits for the csi-addons services, whose specs set none of their own and reuse
    /// CSI's field kinds; except that secrets may hold up to 64 KiB, because the site link's TLS
    /// certificate, key and CA bundle arrive in a replication's secrets (PEM, a few KiB).
    /// </summary>
    public static RequestSizeLimits CsiAddons { get; } = new(64 * 1024);

    public void Check(IMessage request) => CheckMessage(request, "");

    /// <summary>The services, each checking its requests against these limits before its handler.</summary>
    public IEnumerable<ServiceBinding> Guard(IEnumerable<ServiceBinding> services) => services.Select(b => b.CheckingRequests(Check));

    private void CheckMessage(IMessage message, string prefix)
    {
        foreach (var field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            var name = prefix + field.Name;
            var value = field.Accessor.GetValue(message);
            if (field.IsMap)
            {
                CheckMap(field, (IDictionary)value, name);
            }
            else if (field.IsRepeated)
            {
                CheckRepeated(field, (IList)value, name);
            }
            else if (field.FieldType == FieldType.String)
            {
                Limit(name, Encoding.UTF8.GetByteCount((string)value), StringLimit(field));
            }
            else if (field.FieldType == FieldType.Message && value is IMessage nested)
            {
                CheckMessage(nested, name + ".");
            }
        }
    }

    private void CheckMap(FieldDescriptor field, IDictionary map, string name)
    {
        var valueField = field.MessageType.FindFieldByNumber(2);
        if (valueField.FieldType == FieldType.Message)
        {
            foreach (DictionaryEntry entry in map)
            {
                Limit($"{name} key", Encoding.UTF8.GetByteCount((string)entry.Key), StringBytes);
                CheckMessage((IMessage)entry.Value!, $"{name}[{entry.Key}].");
            }
            return;
        }
        var bytes = 0L;
        foreach (DictionaryEntry entry in map)
        {
            bytes += Encoding.UTF8.GetByteCount(entry.Key.ToString()!) + Encoding.UTF8.GetByteCount(entry.Value?.ToString() ?? "");
        }
        Limit(name, bytes, SecretRedactor.IsSecret(field) ? _secretMapBytes : MapBytes);
    }

    private void CheckRepeated(FieldDescriptor field, IList items, string name)
    {
        if (field.FieldType == FieldType.String)
        {
            if (field.Name == "mount_flags")
            {
                Limit(name, items.Cast<string>().Sum(f => (long)Encoding.UTF8.GetByteCount(f)), MountFlagsBytes);
                return;
            }
            for (var i = 0; i < items.Count; i++)
            {
                Limit($"{name}[{i}]", Encoding.UTF8.GetByteCount((string)items[i]!), StringLimit(field));
            }
        }
        else if (field.FieldType == FieldType.Message)
        {
            for (var i = 0; i < items.Count; i++)
            {
                CheckMessage((IMessage)items[i]!, $"{name}[{i}].");
            }
        }
    }

    private static int StringLimit(FieldDescriptor field) =>
        field.Name == "node_id" ? NodeIdBytes : PathFields.Contains(field.Name) ? PathBytes : StringBytes;

    private static void Limit(string field, long bytes, int limit)
    {
        if (bytes > limit)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"{field} is {bytes} bytes; the limit is {limit} bytes");
        }
    }
}
