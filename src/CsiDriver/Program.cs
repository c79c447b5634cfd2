using CsiDriver.Cli;

return await CommandLine.Build().Parse(args).InvokeAsync();
