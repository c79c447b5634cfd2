namespace CsiDriver.Engine.Tests;

internal static class NamedGroups
{
    /// <summary>The named consistency group's handle.</summary>
    public static ConsistencyGroup Group(this StorageEngine engine, string name) => engine.Groups.Single(g => g.Name == name);
}
