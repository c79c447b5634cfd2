namespace CsiDriver.Engine.Nbd;

/// <summary>Several catalogs as one; the first that knows a name wins.</summary>
public sealed class NbdCompositeExportCatalog(params INbdExportCatalog[] catalogs) : INbdExportCatalog
{
    public IEnumerable<NbdExportInfo> List() =>
        catalogs.SelectMany(c => c.List()).DistinctBy(e => e.Name, StringComparer.Ordinal);

    public IBlockDevice? Open(string name)
    {
        foreach (var catalog in catalogs)
        {
            if (catalog.Open(name) is { } device)
            {
                return device;
            }
        }
        return null;
    }
}
