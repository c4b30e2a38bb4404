using System.CommandLine;

namespace LossDsl.Cli.Commands;

/// <summary>
/// One verb of the tool. Implementations need a public parameterless constructor; they are found by
/// reflection (<see cref="CommandLine.Build"/>), so a new verb is a new file in this folder.
/// </summary>
internal interface ICliCommand
{
    /// <summary>The verb's command: name, options, and action (returning the exit code).</summary>
    Command Create();
}
