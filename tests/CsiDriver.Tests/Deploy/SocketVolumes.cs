namespace CsiDriver.Tests.Deploy;

/// <summary>Where a socket path of a container lies: in which volume of its pod, at which path
/// inside it. Two containers share a socket when both resolve to the same place.</summary>
public sealed record SocketVolumes(string Volume, string RelativePath)
{
    public override string ToString() => $"volume {Volume}:/{RelativePath}";

    /// <summary>The place of <paramref name="path"/> (a path or a unix:// URL) as
    /// <paramref name="container"/> sees it, or null when no mount holds it.</summary>
    public static SocketVolumes? Resolve(PodSpec pod, Container container, string path)
    {
        var local = path.StartsWith("unix://", StringComparison.Ordinal) ? path["unix://".Length..] : path;
        var mount = container.VolumeMounts
            .Where(m => local.StartsWith(m.MountPath.TrimEnd('/') + "/", StringComparison.Ordinal))
            .MaxBy(m => m.MountPath.Length);
        return mount is null ? null : new SocketVolumes(mount.Name, local[(mount.MountPath.TrimEnd('/').Length + 1)..]);
    }

    /// <summary>The host's path of <paramref name="place"/>, when its volume is a hostPath.</summary>
    public static string? OnHost(PodSpec pod, SocketVolumes place) =>
        pod.Volumes.SingleOrDefault(v => v.Name == place.Volume)?.HostPath is { } host
            ? host.Path.TrimEnd('/') + "/" + place.RelativePath
            : null;
}
