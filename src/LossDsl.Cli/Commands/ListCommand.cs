using System;
using System.IO;
using System.Linq;

namespace LossDsl.Cli.Commands;

/// <summary><c>lossdsl list</c>: every catalog loss with its task, options (defaults) and a one-line description.</summary>
public static class ListCommand
{
    /// <summary>Prints the catalog; returns the exit code (0).</summary>
    public static int Run(TextWriter stdout)
    {
        foreach (var e in LossCatalog.All)
        {
            stdout.WriteLine($"{e.Name}  ({e.Task.ToString().ToLowerInvariant()}, {e.Type.Name})");
            stdout.WriteLine($"    {e.Description}");
            var options = e
                .Options.Select(o =>
                    $"{o.Name}: {o.TypeText} = {o.DefaultText}" + (e.VectorOptions.Contains(o.Name) ? " (or an array: one per class)" : "")
                )
                .ToList();
            if (e.TakesClassWeights)
                options.Add("classWeights: vector of length C (optional)");
            if (e.Task == LossTask.Multiclass && e.Type != typeof(LovaszHingeLoss))
                options.Add("ignoreIndex: int = -100");
            stdout.WriteLine(options.Count == 0 ? "    options: none" : "    options: " + string.Join(", ", options));
        }
        return 0;
    }
}

/// <summary>The <c>list</c> verb.</summary>
internal sealed class ListVerb : ICliCommand
{
    /// <inheritdoc />
    public System.CommandLine.Command Create()
    {
        var command = new System.CommandLine.Command(
            "list",
            "List the catalog: every loss with its task, options (defaults) and a description."
        );
        command.SetAction(_ => ListCommand.Run(Console.Out));
        return command;
    }
}
