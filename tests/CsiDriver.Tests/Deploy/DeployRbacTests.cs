namespace CsiDriver.Tests.Deploy;

/// <summary>The RBAC of deploy/ gives each sidecar at least what its upstream RBAC file grants
/// at the pinned tag (Deploy/Sidecars/*.yaml): its cluster rules cluster-wide, its namespaced
/// rules in its pod's namespace.</summary>
public sealed class DeployRbacTests
{
    private static DeployManifests Deploy => DeployManifests.Repository;

    [Fact]
    public void SidecarsHoldTheRulesTheirUpstreamReleaseGrants()
    {
        var missing = new List<string>();
        foreach (var (c, release) in Deploy.Sidecars)
        {
            var account = c.Pod.ServiceAccountName ?? "default";
            var where = c.Workload.Metadata.Namespace!;
            var granted = Granted(account, where);
            foreach (var (rule, clusterWide) in release.Rules.Cluster.Select(r => (r, true)).Concat(release.Rules.Namespace.Select(r => (r, false))))
            {
                foreach (var (group, resource, verb) in Triples(rule))
                {
                    if (!granted.Any(g => (g.ClusterWide || !clusterWide) && Covers(g.Rule, group, resource, verb)))
                    {
                        missing.Add($"{c} (service account {where}/{account}): may not {verb} {(group.Length == 0 ? "" : group + "/")}{resource}{(clusterWide ? " cluster-wide" : " in " + where)}, which {release.Image} needs ({release.File})");
                    }
                }
            }
            if (release.Rules.Cluster.Count + release.Rules.Namespace.Count > 0 && c.Pod.AutomountServiceAccountToken == false)
            {
                missing.Add($"{c}: uses the API server, but its pod mounts no service-account token");
            }
        }
        Assert.Empty(missing);
    }

    [Fact]
    public void BindingsBindRolesThatExistToAccountsThatExist()
    {
        var problems = new List<string>();
        var accounts = Deploy.Objects<ServiceAccount>().Select(a => (a.Metadata.Namespace, a.Metadata.Name)).ToHashSet();
        foreach (var binding in Deploy.Objects<RoleBinding>())
        {
            if (Role(binding) is null)
            {
                problems.Add($"{binding.Kind} {binding.Metadata.Name}: {binding.RoleRef.Kind} {binding.RoleRef.Name} is not in deploy/");
            }
            if (binding.RoleRef.ApiGroup != "rbac.authorization.k8s.io")
            {
                problems.Add($"{binding.Kind} {binding.Metadata.Name}: roleRef apiGroup '{binding.RoleRef.ApiGroup}'");
            }
            foreach (var subject in binding.Subjects.Where(s => s.Kind == "ServiceAccount" && !accounts.Contains((s.Namespace, s.Name))))
            {
                problems.Add($"{binding.Kind} {binding.Metadata.Name}: service account {subject.Namespace}/{subject.Name} is not in deploy/");
            }
        }
        var used = Deploy.Objects<Workload>().Select(w => (w.Metadata.Namespace, w.Template.Spec.ServiceAccountName ?? "default"));
        problems.AddRange(used.Where(a => !accounts.Contains(a)).Select(a => $"a pod runs as {a.Item1}/{a.Item2}, which is not in deploy/"));
        Assert.Empty(problems);
    }

    /// <summary>The rules bound to a service account: by a ClusterRoleBinding (cluster-wide) or a
    /// RoleBinding of its namespace (there only).</summary>
    private static List<(PolicyRule Rule, bool ClusterWide)> Granted(string account, string @namespace) =>
        Deploy.Objects<RoleBinding>()
            .Where(b => b.Subjects.Any(s => s.Kind == "ServiceAccount" && s.Name == account && s.Namespace == @namespace)
                && (b.Kind == "ClusterRoleBinding" || b.Metadata.Namespace == @namespace))
            .SelectMany(b => (Role(b)?.Rules ?? []).Select(r => (r, b.Kind == "ClusterRoleBinding")))
            .ToList();

    private static Role? Role(RoleBinding binding) =>
        Deploy.Objects<Role>(binding.RoleRef.Kind).SingleOrDefault(r => r.Metadata.Name == binding.RoleRef.Name
            && (r.Kind == "ClusterRole" || r.Metadata.Namespace == binding.Metadata.Namespace));

    private static IEnumerable<(string Group, string Resource, string Verb)> Triples(PolicyRule rule) =>
        from g in rule.ApiGroups from r in rule.Resources from v in rule.Verbs select (g, r, v);

    /// <summary>Whether <paramref name="rule"/> allows <paramref name="verb"/> on every object of
    /// the resource (a rule limited to resourceNames does not).</summary>
    private static bool Covers(PolicyRule rule, string group, string resource, string verb) =>
        rule.ResourceNames.Count == 0
        && (rule.ApiGroups.Contains(group) || rule.ApiGroups.Contains("*"))
        && (rule.Resources.Contains(resource) || rule.Resources.Contains("*"))
        && (rule.Verbs.Contains(verb) || rule.Verbs.Contains("*"));
}
