using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using Xunit.Abstractions;

namespace CsiDriver.ConformanceTests.Faults;

/// <summary>
/// Node path races against the published binary: while publish and unpublish run over and over,
/// a racer swaps a directory on the way (the pod's directory on the target path, then the
/// volume's directory on the staging path) with a symbolic link out of the kubelet directory
/// and back, atomically by rename, as a hostile pod sharing the host path could. Out there sit
/// a mount of the test's own and a decoy file. No race may mount anything outside the kubelet
/// directory, unmount the foreign mount, or give the pod the decoy instead of its volume.
/// </summary>
public sealed class NodePathRaceTests(DriverFixture fixture, ITestOutputHelper output) : IClassFixture<DriverFixture>
{
    private const int Attempts = 120;
    private const string Decoy = "decoy-outside-the-kubelet-directory";
    private readonly FaultFigures _figures = new("node path races");

    private CsiClient Csi => fixture.Csi;

    private DriverWorkspace Workspace => fixture.Driver.Workspace;

    [Fact]
    public async Task No_race_mounts_outside_unmounts_a_foreign_mount_or_hands_the_pod_a_decoy()
    {
        NodeSteps.RequireKernelPath();
        var capability = Volumes.Mount("ext4");
        var volumeId = (await Csi.CreateAsync("path-race", capability, 64 * Volumes.MiB)).VolumeId;
        var outside = Directory.CreateDirectory(Path.Combine(Workspace.Root, "outside")).FullName;
        const string pod = "pod-race";
        var target = NodeSteps.TargetPath(Workspace, volumeId, pod);
        var podDirectory = Path.Combine(Workspace.KubeletDirectory, "pods", pod);
        var stagingParent = Path.GetDirectoryName(NodeSteps.StagingPath(Workspace, volumeId))!;

        // The look-alikes the links point to: the target's place holds a foreign mount, the staging
        // path's place a decoy file.
        var foreign = Path.Combine(outside, "pod", Path.GetRelativePath(podDirectory, target));
        Directory.CreateDirectory(foreign);
        await HostCommand.RunAsync("mount", "-t", "tmpfs", "formation-race-foreign", foreign);
        var decoyStaging = Path.Combine(outside, "staging", "globalmount");
        Directory.CreateDirectory(decoyStaging);
        await File.WriteAllTextAsync(Path.Combine(decoyStaging, Decoy), "not the volume");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!); // kubelet's step, once: only the racer changes the path from here
        try
        {
            await Csi.StageAsync(Workspace, volumeId, capability);
            foreach (var (raced, link) in new[] { (podDirectory, Path.Combine(outside, "pod")), (stagingParent, Path.Combine(outside, "staging")) })
            {
                using var racer = new PathRacer(raced, link);
                for (var i = 0; i < Attempts; i++)
                {
                    await CallAsync("publish", () => Csi.NodePublishVolume(new()
                    {
                        VolumeId = volumeId, StagingTargetPath = NodeSteps.StagingPath(Workspace, volumeId), TargetPath = target, VolumeCapability = capability,
                    }));
                    if (Directory.Exists(target) && File.Exists(Path.Combine(target, Decoy)))
                    {
                        _figures.Case($"the pod's target shows the decoy from {decoyStaging}");
                    }
                    await CallAsync("unpublish", () => Csi.UnpublishOnNodeAsync(Workspace, volumeId, pod));
                    CheckOutside(outside, foreign);
                }
                _figures.Count("swaps", racer.Stop());
                _figures.Case(racer.Recreated ? $"{raced} was made again while the racer held it aside" : null);
                await CallAsync("final unpublish", () => Csi.UnpublishOnNodeAsync(Workspace, volumeId, pod));
            }
        }
        finally
        {
            try
            {
                await Csi.CleanUpAsync(Workspace, volumeId, pod);
            }
            finally
            {
                if (NodeSteps.IsMounted(foreign))
                {
                    await HostCommand.RunAsync("umount", foreign);
                }
            }
        }
        CheckOutside(outside, foreign: null);
        _figures.Case(Mounts().Any(m => m.StartsWith(Workspace.KubeletDirectory, StringComparison.Ordinal)) ? "a mount under the kubelet directory outlived unstage" : null);
        await Csi.DeleteVolume(volumeId);
        _figures.Report(output);
    }

    /// <summary>Outside the kubelet directory only the foreign mount may be mounted, once.</summary>
    private void CheckOutside(string outside, string? foreign)
    {
        var mounts = Mounts().Where(m => m.StartsWith(outside + "/", StringComparison.Ordinal)).ToList();
        var expected = foreign is null ? [] : new List<string> { foreign };
        _figures.Case(mounts.SequenceEqual(expected) ? null : $"mounts outside the kubelet directory: [{string.Join(", ", mounts)}], expected [{string.Join(", ", expected)}]");
    }

    /// <summary>A node call under the race: success or a refusal with a message; nothing else.</summary>
    private async Task CallAsync(string what, Func<Task> call)
    {
        try
        {
            await call();
            _figures.Count($"{what} OK");
            _figures.Case();
        }
        catch (RpcException e)
        {
            _figures.Count($"{what} {e.Status}");
            var allowed = e.Status is StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.NotFound;
            _figures.Case(allowed && !string.IsNullOrWhiteSpace(e.Message) ? null : $"{what}: {e.Status} '{e.Message}'");
        }
        catch (IOException)
        {
            // Kubelet's own step (making the target's parent) lost the race: no call was made.
            _figures.Count($"{what} not sent (the race broke the test's own step)");
        }
    }

    private static List<string> Mounts() =>
        File.ReadLines("/proc/self/mountinfo").Select(line => line.Split(' ')[4]).ToList();

    /// <summary>Swaps a directory with a symbolic link to <c>link</c> and back, by rename, until
    /// stopped; the directory is back in place afterwards. Only the driver could make the path
    /// meanwhile (the test made every directory before): if it does, racing stops and
    /// <see cref="Recreated"/> says so.</summary>
    private sealed class PathRacer : IDisposable
    {
        private readonly string _path;
        private readonly string _aside;
        private readonly Thread _thread;
        private volatile bool _stop;
        private long _swaps;

        public PathRacer(string path, string link)
        {
            _path = path;
            _aside = path + ".aside";
            _thread = new Thread(() =>
            {
                while (!_stop)
                {
                    Directory.Move(_path, _aside);
                    try
                    {
                        File.CreateSymbolicLink(_path, link);
                    }
                    catch (IOException)
                    {
                        Recreated = true; // made again while it was aside
                        _stop = true;
                        break;
                    }
                    Thread.SpinWait(2000);
                    File.Delete(_path);
                    Directory.Move(_aside, _path);
                    Thread.SpinWait(2000);
                    _swaps++;
                }
            }) { IsBackground = true, Name = "path racer" };
            _thread.Start();
        }

        /// <summary>The path was made again while the racer held it aside.</summary>
        public bool Recreated { get; private set; }

        /// <summary>Stops racing and returns how many swaps it made.</summary>
        public long Stop()
        {
            _stop = true;
            _thread.Join();
            return _swaps;
        }

        public void Dispose()
        {
            if (!_stop)
            {
                Stop();
            }
        }
    }
}
