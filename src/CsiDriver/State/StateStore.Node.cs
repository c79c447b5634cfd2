namespace CsiDriver.State;

/// <summary>The node side's records: what is staged and published here, so that a restart
/// knows what it attached and unmounts only what it mounted.</summary>
public sealed partial class StateStore
{
    public StagingRecord? FindStaging(string volumeId) =>
        Stagings("WHERE volume_id = $id", ("$id", volumeId)).SingleOrDefault();

    public IReadOnlyList<StagingRecord> Stagings() => Stagings("");

    public void InsertStaging(StagingRecord s) => Execute("""
        INSERT OR REPLACE INTO stagings (volume_id, staging_path, device, fuse_directory, access_type, fs_type, read_only)
        VALUES ($v, $p, $d, $f, $a, $fs, $r)
        """,
        ("$v", s.VolumeId), ("$p", s.StagingPath), ("$d", s.Device), ("$f", s.FuseDirectory),
        ("$a", s.AccessType.ToString()), ("$fs", s.FsType), ("$r", s.ReadOnly ? 1 : 0));

    public void DeleteStaging(string volumeId) => Execute("DELETE FROM stagings WHERE volume_id = $v", ("$v", volumeId));

    public NodePublicationRecord? FindNodePublication(string targetPath) =>
        NodePublications("WHERE target_path = $t", ("$t", targetPath)).SingleOrDefault();

    public IReadOnlyList<NodePublicationRecord> NodePublicationsOf(string volumeId) =>
        NodePublications("WHERE volume_id = $v", ("$v", volumeId));

    public void InsertNodePublication(NodePublicationRecord p) =>
        Execute("INSERT INTO node_publications (target_path, volume_id, read_only) VALUES ($t, $v, $r)",
            ("$t", p.TargetPath), ("$v", p.VolumeId), ("$r", p.ReadOnly ? 1 : 0));

    public void DeleteNodePublication(string targetPath) =>
        Execute("DELETE FROM node_publications WHERE target_path = $t", ("$t", targetPath));

    private List<StagingRecord> Stagings(string where, params (string Name, object Value)[] parameters) =>
        Query($"SELECT volume_id, staging_path, device, fuse_directory, access_type, fs_type, read_only FROM stagings {where} ORDER BY volume_id",
            r => new StagingRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3),
                Enum.Parse<AccessType>(r.GetString(4)), r.GetString(5), r.GetInt64(6) != 0),
            parameters);

    private List<NodePublicationRecord> NodePublications(string where, params (string Name, object Value)[] parameters) =>
        Query($"SELECT target_path, volume_id, read_only FROM node_publications {where} ORDER BY target_path",
            r => new NodePublicationRecord(r.GetString(0), r.GetString(1), r.GetInt64(2) != 0),
            parameters);
}
