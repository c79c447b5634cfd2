namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>Where the published csidriver executable is: $CSIDRIVER_BIN, else
/// out/csidriver/csidriver under the repository root (the directory holding CsiDriver.sln).</summary>
public static class DriverBinary
{
    public const string EnvironmentVariable = "CSIDRIVER_BIN";

    private static readonly Lazy<string> Located = new(Locate);

    /// <summary>The executable's path; fails the calling test when it is missing, since every
    /// conformance test needs the real binary.</summary>
    public static string RequirePath()
    {
        var path = Located.Value;
        if (!File.Exists(path))
        {
            Assert.Fail($"csidriver executable not found at {path}: run `make build` (or set {EnvironmentVariable}).");
        }
        return path;
    }

    private static string Locate()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return Path.GetFullPath(fromEnvironment);
        }
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "CsiDriver.sln")))
            {
                return Path.Combine(directory.FullName, "out", "csidriver", "csidriver");
            }
        }
        Assert.Fail($"no CsiDriver.sln above {AppContext.BaseDirectory}; set {EnvironmentVariable} to the csidriver executable.");
        return string.Empty;
    }
}
