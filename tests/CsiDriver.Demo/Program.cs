using CsiDriver.Demo;

var root = DemoCommand.Build();
root.Subcommands.Add(CheckConsistencyCommand.Build());
return await root.Parse(args).InvokeAsync();
