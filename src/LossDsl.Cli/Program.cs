using System;
using LossDsl.Cli;

// lossdsl: every verb is a class under Commands/ implementing ICliCommand; see CommandLine.cs.
NativeSetup.Apply();
return CommandLine.Run(args, Console.Out, Console.Error);
