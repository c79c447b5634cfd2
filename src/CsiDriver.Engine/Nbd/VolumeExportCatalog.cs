namespace CsiDriver.Engine.Nbd;

/// <summary>
/// Exports every volume of a <see cref="StorageEngine"/> under its volume id. A volume is served
/// read-only when it says so itself (a replica) or when <paramref name="publishedReadOnly"/>
/// says so for its id (a volume attached with CSI <c>readonly</c>).
/// </summary>
public sealed class VolumeExportCatalog(StorageEngine engine, Func<string, bool>? publishedReadOnly = null)
    : INbdExportCatalog
{
    public IEnumerable<NbdExportInfo> List() =>
        engine.Volumes
            .OrderBy(v => v.Id, StringComparer.Ordinal)
            .Select(v => new NbdExportInfo(v.Id, v.Size, v.IsReadOnly || IsPublishedReadOnly(v.Id), "volume"));

    public IBlockDevice? Open(string name)
    {
        var volume = engine.FindVolume(name);
        if (volume is null)
        {
            return null;
        }
        return IsPublishedReadOnly(name) ? new ReadOnlyBlockDevice(volume) : volume;
    }

    private bool IsPublishedReadOnly(string id) => publishedReadOnly?.Invoke(id) ?? false;
}
