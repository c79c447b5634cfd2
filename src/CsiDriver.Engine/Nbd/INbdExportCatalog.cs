namespace CsiDriver.Engine.Nbd;

/// <summary>What a client sees of one export before it opens it (NBD_OPT_LIST / NBD_OPT_INFO).</summary>
public sealed record NbdExportInfo(string Name, long Size, bool IsReadOnly, string? Description = null);

/// <summary>
/// Where the NBD server looks exports up by name. Volumes, snapshots (read-only) and replicas
/// each come from a catalog; <see cref="NbdCompositeExportCatalog"/> joins several.
/// </summary>
public interface INbdExportCatalog
{
    IEnumerable<NbdExportInfo> List();

    /// <summary>The device behind <paramref name="name"/>, or null when there is no such export.
    /// The catalog keeps ownership: the server never disposes what it gets here.</summary>
    IBlockDevice? Open(string name);
}
