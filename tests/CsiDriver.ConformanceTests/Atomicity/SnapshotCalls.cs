using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CsiDriver.ConformanceTests.Atomicity;

/// <summary>The snapshot calls the atomicity tests make that <see cref="CsiClient"/> does not
/// offer: group snapshots (GroupController) and snapshot deletion.</summary>
public static class SnapshotCalls
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly ServiceDescriptor GroupController = CsiReflection.Descriptor.Services.Single(s => s.Name == "GroupController");
    private static readonly ServiceDescriptor Controller = CsiReflection.Descriptor.Services.Single(s => s.Name == "Controller");

    public static Task<CreateVolumeGroupSnapshotResponse> CreateVolumeGroupSnapshot(this CsiClient csi, string name, params string[] sourceVolumeIds) =>
        Call<CreateVolumeGroupSnapshotRequest, CreateVolumeGroupSnapshotResponse>(csi, GroupController, "CreateVolumeGroupSnapshot",
            new CreateVolumeGroupSnapshotRequest { Name = name, SourceVolumeIds = { sourceVolumeIds } });

    public static Task<DeleteVolumeGroupSnapshotResponse> DeleteVolumeGroupSnapshot(this CsiClient csi, VolumeGroupSnapshot group) =>
        Call<DeleteVolumeGroupSnapshotRequest, DeleteVolumeGroupSnapshotResponse>(csi, GroupController, "DeleteVolumeGroupSnapshot",
            new DeleteVolumeGroupSnapshotRequest { GroupSnapshotId = group.GroupSnapshotId, SnapshotIds = { group.Snapshots.Select(s => s.SnapshotId) } });

    public static Task<DeleteSnapshotResponse> DeleteSnapshot(this CsiClient csi, string snapshotId) =>
        Call<DeleteSnapshotRequest, DeleteSnapshotResponse>(csi, Controller, "DeleteSnapshot", new DeleteSnapshotRequest { SnapshotId = snapshotId });

    private static Task<TResponse> Call<TRequest, TResponse>(CsiClient csi, ServiceDescriptor service, string method, TRequest request)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        csi.Grpc.UnaryAsync<TRequest, TResponse>(service.FindMethodByName(method), request, new CallOptions { Timeout = Deadline });
}
