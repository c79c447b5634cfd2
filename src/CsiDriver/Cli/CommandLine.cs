using System.CommandLine;

namespace CsiDriver.Cli;

/// <summary>The `csidriver` command tree.</summary>
public static class CommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand(
            "Formation: a CSI driver whose volumes live in a journaling storage engine that " +
            "replicates whole services, as consistency groups, to a backup site.");
        root.Subcommands.Add(ServeCommand.Build());
        root.Subcommands.Add(ControllerCommand.Build());
        root.Subcommands.Add(SessionHolderCommand.Build());
        root.Subcommands.Add(CopySnapshotCommand.Build());
        return root;
    }
}
