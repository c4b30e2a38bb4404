using System;
using System.CommandLine;
using LossDsl.Cli.Commands;

namespace LossDsl.Cli;

/// <summary>The <c>lossdsl</c> command-line tool.</summary>
public static class Program
{
    /// <summary>Parses the command line and runs the verb; returns the exit code.</summary>
    public static int Main(string[] args)
    {
        var root = new RootCommand("lossdsl: segmentation losses declared with a DSL and compiled to TorchSharp");

        var list = new Command("list", "List the catalog: every loss with its task, options (defaults) and a description.");
        list.SetAction(_ => ListCommand.Run(Console.Out));
        root.Subcommands.Add(list);

        var caseArg = new Argument<string>("case") { Description = "A case file (JSON), or - for standard input." };
        var gradOpt = new Option<bool>("--grad") { Description = "Also print the gradient with respect to the input." };
        var eval = new Command("eval", "Evaluate one catalog loss on the tensors of a JSON case and print the result as JSON.") { caseArg, gradOpt };
        eval.SetAction(r => EvalCommand.Run(r.GetValue(caseArg)!, r.GetValue(gradOpt), Console.In, Console.Out, Console.Error));
        root.Subcommands.Add(eval);

        var fileArg = new Argument<string>("file") { Description = "A C# file declaring [Loss] specs." };
        var check = new Command("check", "Run the LossDsl checker on a spec file and print its diagnostics like the compiler.") { fileArg };
        check.SetAction(r => CheckCommand.Run(r.GetValue(fileArg)!, Console.Out, Console.Error));
        root.Subcommands.Add(check);

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) Console.Error.WriteLine($"lossdsl: {e.Message}");
            return 2;
        }
        return parsed.Invoke();
    }
}
