namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>An executable `make build` publishes, which the tests run as a process: its path is
/// the environment variable when set, else a path under the repository root (the directory
/// holding CsiDriver.sln).</summary>
public sealed class PublishedBinary
{
    /// <summary>The driver, `csidriver`.</summary>
    public static readonly PublishedBinary Driver = new("CSIDRIVER_BIN", "out/csidriver/csidriver");

    /// <summary>The demonstration, `formation-demo`.</summary>
    public static readonly PublishedBinary Demo = new("FORMATION_DEMO_BIN", "out/demo/formation-demo");

    private readonly string _environmentVariable;
    private readonly Lazy<string> _located;

    private PublishedBinary(string environmentVariable, string relativePath)
    {
        _environmentVariable = environmentVariable;
        _located = new Lazy<string>(() => Locate(environmentVariable, relativePath));
    }

    /// <summary>The executable's path; fails the calling test when it is missing, since the
    /// tests that run it need the real binary.</summary>
    public string RequirePath()
    {
        var path = _located.Value;
        if (!File.Exists(path))
        {
            Assert.Fail($"executable not found at {path}: run `make build` (or set {_environmentVariable}).");
        }
        return path;
    }

    private static string Locate(string environmentVariable, string relativePath)
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(environmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return Path.GetFullPath(fromEnvironment);
        }
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "CsiDriver.sln")))
            {
                return Path.Combine(directory.FullName, relativePath);
            }
        }
        Assert.Fail($"no CsiDriver.sln above {AppContext.BaseDirectory}; set {environmentVariable} to the executable.");
        return string.Empty;
    }
}
