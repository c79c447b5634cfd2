namespace CsiDriver.ConformanceTests.Replication;

/// <summary>The two-site tests run one at a time and apart from every other test: each starts
/// two driver processes and a write load, which is all a 2-core machine has to give.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TwoSitesCollection
{
    public const string Name = "two sites";
}
