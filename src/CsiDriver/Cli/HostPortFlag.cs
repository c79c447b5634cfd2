using System.CommandLine.Parsing;
using CsiDriver.Rpc;

namespace CsiDriver.Cli;

/// <summary>Checks a host:port flag as it is parsed, so a typo fails before anything starts.</summary>
public static class HostPortFlag
{
    public static void Validate(OptionResult result, string flag)
    {
        if (result.GetValueOrDefault<string?>() is { } text)
        {
            try
            {
                HostPort.Parse(text, flag);
            }
            catch (FormatException e)
            {
                result.AddError(e.Message);
            }
        }
    }
}
