using YamlDotNet.Serialization;

namespace CsiDriver.Tests.Deploy;

// Typed views of the Kubernetes objects deploy/ holds: only the fields the manifests use. They
// are read strictly, so a field that is not modelled here (a misspelt `volumeMount`, a
// `strategy` on a DaemonSet) is a parse error rather than a setting the cluster would drop or
// refuse.

public class KubeObject
{
    public string ApiVersion { get; set; } = "";
    public string Kind { get; set; } = "";
    public ObjectMeta Metadata { get; set; } = new();
}

public sealed class ObjectMeta
{
    public string Name { get; set; } = "";
    public string? Namespace { get; set; }
    public Dictionary<string, string> Labels { get; set; } = [];
    public Dictionary<string, string> Annotations { get; set; } = [];
}

public sealed class ServiceAccount : KubeObject
{
    public bool? AutomountServiceAccountToken { get; set; }
}

public sealed class Service : KubeObject
{
    public ServiceSpec Spec { get; set; } = new();
}

public sealed class ServiceSpec
{
    public string? Type { get; set; }
    public Dictionary<string, string> Selector { get; set; } = [];
    public List<ServicePort> Ports { get; set; } = [];
}

public sealed class ServicePort
{
    public string? Name { get; set; }
    public int Port { get; set; }
    /// <summary>A port number or the name of a container port.</summary>
    public string? TargetPort { get; set; }
    public string? Protocol { get; set; }
}

/// <summary>A Deployment or a DaemonSet: what runs a pod template.</summary>
public abstract class Workload : KubeObject
{
    [YamlIgnore]
    public abstract WorkloadSpec Pods { get; }

    [YamlIgnore]
    public LabelSelector Selector => Pods.Selector;

    [YamlIgnore]
    public PodTemplate Template => Pods.Template;
}

/// <summary>The part of a workload's spec every kind has.</summary>
public abstract class WorkloadSpec
{
    public LabelSelector Selector { get; set; } = new();
    public PodTemplate Template { get; set; } = new();
}

public sealed class Deployment : Workload
{
    public DeploymentSpec Spec { get; set; } = new();

    [YamlIgnore]
    public override WorkloadSpec Pods => Spec;
}

public sealed class DeploymentSpec : WorkloadSpec
{
    public int? Replicas { get; set; }
    public UpdateStrategy? Strategy { get; set; }
}

public sealed class DaemonSet : Workload
{
    public DaemonSetSpec Spec { get; set; } = new();

    [YamlIgnore]
    public override WorkloadSpec Pods => Spec;
}

public sealed class DaemonSetSpec : WorkloadSpec
{
    public UpdateStrategy? UpdateStrategy { get; set; }
}

public sealed class UpdateStrategy
{
    public string Type { get; set; } = "";
}

public sealed class LabelSelector
{
    public Dictionary<string, string> MatchLabels { get; set; } = [];
}

public sealed class PodTemplate
{
    public ObjectMeta Metadata { get; set; } = new();
    public PodSpec Spec { get; set; } = new();
}

public sealed class PodSpec
{
    public string? ServiceAccountName { get; set; }
    public bool? AutomountServiceAccountToken { get; set; }
    public string? PriorityClassName { get; set; }
    public bool? HostNetwork { get; set; }
    public string? DnsPolicy { get; set; }
    public List<Dictionary<string, string>> Tolerations { get; set; } = [];
    public List<Container> Containers { get; set; } = [];
    public List<Volume> Volumes { get; set; } = [];
}

public sealed class Container
{
    public string Name { get; set; } = "";
    public string Image { get; set; } = "";
    public List<string> Command { get; set; } = [];
    public List<string> Args { get; set; } = [];
    public List<EnvVar> Env { get; set; } = [];
    public List<PodPort> Ports { get; set; } = [];
    public Probe? LivenessProbe { get; set; }
    public Probe? ReadinessProbe { get; set; }
    public Dictionary<string, object>? SecurityContext { get; set; }
    public Dictionary<string, object>? Resources { get; set; }
    public List<VolumeMount> VolumeMounts { get; set; } = [];
}

public sealed class EnvVar
{
    public string Name { get; set; } = "";
    public string? Value { get; set; }
    public EnvVarSource? ValueFrom { get; set; }
}

public sealed class EnvVarSource
{
    public FieldSelector? FieldRef { get; set; }
}

public sealed class FieldSelector
{
    public string FieldPath { get; set; } = "";
}

/// <summary>A container port (Kubernetes ContainerPort).</summary>
public sealed class PodPort
{
    public string? Name { get; set; }
    public int ContainerPort { get; set; }
    public int? HostPort { get; set; }
    public string? Protocol { get; set; }
}

public sealed class Probe
{
    public HttpGetAction? HttpGet { get; set; }
    public int? InitialDelaySeconds { get; set; }
    public int? PeriodSeconds { get; set; }
    public int? TimeoutSeconds { get; set; }
    public int? FailureThreshold { get; set; }
}

public sealed class HttpGetAction
{
    public string Path { get; set; } = "";
    /// <summary>A port number or the name of a port of the same container.</summary>
    public string Port { get; set; } = "";
}

public sealed class VolumeMount
{
    public string Name { get; set; } = "";
    public string MountPath { get; set; } = "";
    public bool? ReadOnly { get; set; }
    public string? MountPropagation { get; set; }
}

public sealed class Volume
{
    public string Name { get; set; } = "";
    public HostPathSource? HostPath { get; set; }
    public SecretSource? Secret { get; set; }
    public Dictionary<string, object>? EmptyDir { get; set; }
}

public sealed class HostPathSource
{
    public string Path { get; set; } = "";
    public string? Type { get; set; }
}

public sealed class SecretSource
{
    public string SecretName { get; set; } = "";
    public bool? Optional { get; set; }
}

public sealed class Role : KubeObject
{
    public List<PolicyRule> Rules { get; set; } = [];
}

public sealed class PolicyRule
{
    public List<string> ApiGroups { get; set; } = [];
    public List<string> Resources { get; set; } = [];
    public List<string> Verbs { get; set; } = [];
    public List<string> ResourceNames { get; set; } = [];
}

public sealed class RoleBinding : KubeObject
{
    public List<Subject> Subjects { get; set; } = [];
    public RoleRef RoleRef { get; set; } = new();
}

public sealed class Subject
{
    public string Kind { get; set; } = "";
    public string Name { get; set; } = "";
    public string? Namespace { get; set; }
}

public sealed class RoleRef
{
    public string Kind { get; set; } = "";
    public string Name { get; set; } = "";
    public string ApiGroup { get; set; } = "";
}

public sealed class CsiDriverObject : KubeObject
{
    public CsiDriverSpec Spec { get; set; } = new();
}

public sealed class CsiDriverSpec
{
    public bool? AttachRequired { get; set; }
    public bool? StorageCapacity { get; set; }
    public bool? PodInfoOnMount { get; set; }
    public string? FsGroupPolicy { get; set; }
    public List<string> VolumeLifecycleModes { get; set; } = [];
}

public sealed class StorageClass : KubeObject
{
    public string Provisioner { get; set; } = "";
    public string? ReclaimPolicy { get; set; }
    public string? VolumeBindingMode { get; set; }
    public bool? AllowVolumeExpansion { get; set; }
    public Dictionary<string, string> Parameters { get; set; } = [];
}

/// <summary>A VolumeSnapshotClass or a VolumeGroupSnapshotClass: the same fields.</summary>
public sealed class SnapshotClass : KubeObject
{
    public string Driver { get; set; } = "";
    public string DeletionPolicy { get; set; } = "";
    public Dictionary<string, string> Parameters { get; set; } = [];
}

/// <summary>Where backup applications find a driver's SnapshotMetadata API (external-snapshot-metadata's CRD).</summary>
public sealed class SnapshotMetadataService : KubeObject
{
    public SnapshotMetadataServiceSpec Spec { get; set; } = new();
}

public sealed class SnapshotMetadataServiceSpec
{
    /// <summary>host:port of the sidecar's TLS server.</summary>
    public string Address { get; set; } = "";
    public string CaCert { get; set; } = "";
    public string Audience { get; set; } = "";
}

public sealed class VolumeAttributesClass : KubeObject
{
    public string DriverName { get; set; } = "";
    public Dictionary<string, string> Parameters { get; set; } = [];
}

/// <summary>A csi-addons VolumeReplicationClass or VolumeGroupReplicationClass: the same fields.</summary>
public sealed class ReplicationClass : KubeObject
{
    public ReplicationClassSpec Spec { get; set; } = new();
}

public sealed class ReplicationClassSpec
{
    public string Provisioner { get; set; } = "";
    public Dictionary<string, string> Parameters { get; set; } = [];
}
