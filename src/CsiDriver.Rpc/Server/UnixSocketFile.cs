using System.Net.Sockets;

namespace CsiDriver.Rpc.Server;

/// <summary>
/// The socket file of a unix endpoint. A file left behind by a process that died is removed before
/// binding; a socket someone still answers on is left alone and binding fails, rather than stealing
/// a live server's address.
/// </summary>
internal static class UnixSocketFile
{
    /// <summary>Removes a stale socket file; true if one was removed.</summary>
    public static bool RemoveStale(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IOException($"Unix socket '{path}' is in use by another server.");
            }
            catch (SocketException)
            {
                // Nobody listens: the file is stale.
            }
        }
        File.Delete(path);
        return true;
    }

    public static void Remove(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone with its directory.
        }
    }
}
