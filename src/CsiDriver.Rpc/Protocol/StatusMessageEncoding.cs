using System.Text;

namespace CsiDriver.Rpc.Protocol;

/// <summary>
/// grpc-message is percent-encoded UTF-8: bytes outside printable ASCII (0x20–0x7E) and '%' itself
/// are written as %XX. Decoding is lenient: a malformed escape is kept as text, as the spec asks.
/// </summary>
internal static class StatusMessageEncoding
{
    public static string Encode(string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        if (Array.TrueForAll(bytes, b => !NeedsEscape(b)))
        {
            return message;
        }
        var sb = new StringBuilder(bytes.Length * 3);
        foreach (var b in bytes)
        {
            if (NeedsEscape(b))
            {
                sb.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append((char)b);
            }
        }
        return sb.ToString();
    }

    public static string Decode(string value)
    {
        if (!value.Contains('%'))
        {
            return value;
        }
        var bytes = new List<byte>(value.Length);
        var literalStart = 0;
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '%' && i + 2 < value.Length && IsHex(value[i + 1]) && IsHex(value[i + 2]))
            {
                // Unescaped text is taken as whole runs, so a surrogate pair is never split.
                bytes.AddRange(Encoding.UTF8.GetBytes(value[literalStart..i]));
                bytes.Add(Convert.ToByte(value.Substring(i + 1, 2), 16));
                i += 2;
                literalStart = i + 1;
            }
        }
        bytes.AddRange(Encoding.UTF8.GetBytes(value[literalStart..]));
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool NeedsEscape(byte b) => b is < 0x20 or > 0x7E or (byte)'%';

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);
}
