using Csi.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CsiDriver.Logging;

/// <summary>
/// Renders requests for the log with every field marked <c>(csi.v1.csi_secret)</c> emptied,
/// at any depth. The csi-addons messages mark their secrets with the same option, so one
/// walk over the descriptors serves both interfaces.
/// </summary>
public static class SecretRedactor
{
    private static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(false));

    public static string Render(IMessage message)
    {
        var copy = message.Descriptor.Parser.ParseFrom(message.ToByteString());
        Redact(copy);
        return Json.Format(copy);
    }

    /// <summary>Clears secret fields in place.</summary>
    public static void Redact(IMessage message)
    {
        foreach (var field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            if (IsSecret(field))
            {
                field.Accessor.Clear(message);
                continue;
            }
            if (field.FieldType != FieldType.Message)
            {
                continue;
            }
            var value = field.Accessor.GetValue(message);
            switch (value)
            {
                case null:
                    break;
                case IMessage nested:
                    Redact(nested);
                    break;
                case System.Collections.IDictionary map:
                    foreach (var entry in map.Values)
                    {
                        if (entry is IMessage nestedEntry)
                        {
                            Redact(nestedEntry);
                        }
                    }
                    break;
                case System.Collections.IEnumerable list:
                    foreach (var item in list)
                    {
                        if (item is IMessage nestedItem)
                        {
                            Redact(nestedItem);
                        }
                    }
                    break;
            }
        }
    }

    /// <summary>Whether the field is marked <c>(csi.v1.csi_secret)</c>.</summary>
    public static bool IsSecret(FieldDescriptor field) =>
        field.GetOptions()?.GetExtension(CsiExtensions.CsiSecret) == true;
}
