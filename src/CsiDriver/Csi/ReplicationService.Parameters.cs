using System.Security.Cryptography;
using CsiDriver.Replication;
using CsiDriver.Rpc;
using CsiDriver.State;

namespace CsiDriver.Csi;

public sealed partial class ReplicationService
{
    /// <summary>VolumeReplicationClass parameter: the peer site's link, host:port. Required.</summary>
    public const string PeerAddressParameter = "peerAddress";

    /// <summary>VolumeReplicationClass parameter: <c>group</c> (default; the backup is always a
    /// prefix of the whole group) or <c>per-volume</c> (each volume its own stream, no order
    /// across volumes; for comparison only).</summary>
    public const string ModeParameter = "mode";

    /// <summary>VolumeReplicationClass parameter: how much journal the replication may hold
    /// while the peer is behind, as a size (256Mi, 1G, 1048576); past it the group switches to
    /// dirty-chunk tracking. Absent: the engine's retention budget.</summary>
    public const string JournalBudgetParameter = "journalBudget";

    /// <summary>Keys under this prefix are the csi-addons controller's own (the secret's name
    /// and namespace); they are not for the driver.</summary>
    public const string CsiAddonsPrefix = "replication.storage.openshift.io/";

    /// <summary>Secret keys of the link's TLS material, PEM, named as in a Kubernetes TLS
    /// secret: this site's certificate and key, and the CA the peer's certificate must chain
    /// to. All three or none; none means the serve flags' --site-link-* files.</summary>
    public const string CertificateSecret = "tls.crt";
    public const string KeySecret = "tls.key";
    public const string AuthoritySecret = "ca.crt";

    private static readonly string[] KnownParameters = [PeerAddressParameter, ModeParameter, JournalBudgetParameter];
    private static readonly string[] TlsSecrets = [CertificateSecret, KeySecret, AuthoritySecret];

    /// <summary>An enable request's parameters and secrets, validated.</summary>
    private sealed record ReplicationSettings(
        IReadOnlyDictionary<string, string> Parameters, string PeerAddress, ReplicationModeKind Mode, long? JournalBudgetBytes, SiteLinkTls? Tls)
    {
        /// <summary>Unknown parameters and malformed values are INVALID_ARGUMENT; TLS material
        /// that is incomplete is INVALID_ARGUMENT, material that does not make a usable
        /// certificate and key is UNAUTHENTICATED (the spec's "secrets not valid for
        /// authentication"). Messages name the key and never quote a secret.</summary>
        public static ReplicationSettings Parse(IReadOnlyDictionary<string, string> given, IReadOnlyDictionary<string, string> secrets)
        {
            var parameters = given.Where(p => !p.Key.StartsWith(CsiAddonsPrefix, StringComparison.Ordinal)).ToDictionary(StringComparer.Ordinal);
            var unknown = parameters.Keys.Except(KnownParameters, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            if (unknown.Count > 0)
            {
                throw new RpcException(StatusCode.InvalidArgument,
                    $"unknown parameters [{string.Join(", ", unknown)}]; the known ones are {string.Join(", ", KnownParameters)}");
            }
            return new ReplicationSettings(parameters, ParsePeerAddress(parameters), ParseMode(parameters), ParseJournalBudget(parameters), ParseTls(secrets));
        }

        public ReplicationSpec ToSpec(Source source, IReadOnlyList<string> volumeIds) => new(
            source.Id,
            volumeIds,
            source.Kind == ReplicationSourceKind.VolumeGroup ? source.Id : null,
            PeerAddress,
            Mode,
            JournalBudgetBytes,
            Tls,
            Parameters);

        private static string ParsePeerAddress(Dictionary<string, string> parameters)
        {
            if (!parameters.TryGetValue(PeerAddressParameter, out var text) || text.Length == 0)
            {
                throw new RpcException(StatusCode.InvalidArgument, $"parameter {PeerAddressParameter} is required: the peer site's link as host:port");
            }
            try
            {
                return SiteLinkAddress.Parse(text).ToString();
            }
            catch (FormatException)
            {
                throw new RpcException(StatusCode.InvalidArgument, $"parameter {PeerAddressParameter} '{text}' is not host:port with a port from 1 to 65535");
            }
        }

        private static ReplicationModeKind ParseMode(Dictionary<string, string> parameters) =>
            parameters.GetValueOrDefault(ModeParameter, "group") switch
            {
                "group" => ReplicationModeKind.Group,
                "per-volume" => ReplicationModeKind.PerVolume,
                var other => throw new RpcException(StatusCode.InvalidArgument, $"parameter {ModeParameter} '{other}' must be 'group' or 'per-volume'"),
            };

        private static long? ParseJournalBudget(Dictionary<string, string> parameters)
        {
            if (!parameters.TryGetValue(JournalBudgetParameter, out var text))
            {
                return null;
            }
            if (!ByteSize.TryParse(text, out var bytes) || bytes <= 0)
            {
                throw new RpcException(StatusCode.InvalidArgument, $"parameter {JournalBudgetParameter} '{text}' is not a positive size such as 256Mi, 1G or 1048576");
            }
            return bytes;
        }

        private static SiteLinkTls? ParseTls(IReadOnlyDictionary<string, string> secrets)
        {
            var present = TlsSecrets.Where(k => !string.IsNullOrEmpty(secrets.GetValueOrDefault(k))).ToList();
            if (present.Count == 0)
            {
                return null;
            }
            if (present.Count < TlsSecrets.Length)
            {
                throw new RpcException(StatusCode.InvalidArgument,
                    $"secrets hold {string.Join(", ", present)} but not {string.Join(", ", TlsSecrets.Except(present))}: give the link's certificate, key and CA together, or none to use the serve flags' files");
            }
            try
            {
                return SiteLinkTls.FromPem(new SiteLinkPem(secrets[CertificateSecret], secrets[KeySecret], secrets[AuthoritySecret]));
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                throw new RpcException(StatusCode.Unauthenticated,
                    $"secrets {CertificateSecret}, {KeySecret} and {AuthoritySecret} do not make a usable TLS identity: they must be PEM, and the key must belong to the certificate");
            }
        }
    }
}
