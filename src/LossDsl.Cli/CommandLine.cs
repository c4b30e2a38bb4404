using System;
using System.CommandLine;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using LossDsl.Cli.Commands;

namespace LossDsl.Cli;

/// <summary>Exit codes of the tool.</summary>
internal static class ExitCodes
{
    /// <summary>The verb did its job.</summary>
    public const int Success = 0;

    /// <summary>The verb ran and failed (an I/O error, a training failure).</summary>
    public const int Failure = 1;

    /// <summary>The command line was wrong: unknown verb or option, bad value, missing file.</summary>
    public const int Usage = 2;
}

/// <summary>
/// A bad command line found while running a verb (a value the parser accepted but the verb cannot
/// use, e.g. an unknown loss name). Reported as one line, exit code <see cref="ExitCodes.Usage"/>.
/// </summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// The root command. Verbs are discovered: every non-abstract class of this assembly implementing
/// <see cref="ICliCommand"/> contributes one subcommand, so adding a verb means adding a file under
/// Commands/.
/// </summary>
internal static class CommandLine
{
    /// <summary>Builds the root command with every discovered verb, in name order.</summary>
    public static RootCommand Build()
    {
        var root = new RootCommand("lossdsl: segmentation losses declared in C#, compared on sparse, imbalanced data.");
        var verbs = typeof(CommandLine)
            .Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(ICliCommand).IsAssignableFrom(t))
            .Select(t => (ICliCommand)Activator.CreateInstance(t)!)
            .Select(c => c.Create())
            .OrderBy(c => c.Name, StringComparer.Ordinal);
        foreach (var verb in verbs)
            root.Subcommands.Add(verb);
        return root;
    }

    /// <summary>
    /// Parses and runs <paramref name="args"/>. Parse errors print one line to <paramref name="error"/>
    /// and return <see cref="ExitCodes.Usage"/>; so does a <see cref="UsageException"/> from a verb.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = Build();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            var verb = parsed.CommandResult.Command == root ? "lossdsl" : "lossdsl " + parsed.CommandResult.Command.Name;
            // One line: every parse error (e.g. "Required command was not provided" together with
            // "Unrecognized command or argument 'x'"), each message's own line breaks folded.
            var messages = parsed.Errors.Select(e => Regex.Replace(e.Message.Trim(), @"\s*\n\s*", " ").TrimEnd('.')).Distinct();
            error.WriteLine($"lossdsl: {string.Join("; ", messages)} (see `{verb} --help`)");
            return ExitCodes.Usage;
        }
        try
        {
            return parsed.Invoke(
                new InvocationConfiguration
                {
                    Output = output,
                    Error = error,
                    EnableDefaultExceptionHandler = false,
                }
            );
        }
        catch (UsageException e)
        {
            error.WriteLine($"lossdsl: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            error.WriteLine($"lossdsl: {e.Message}");
            return ExitCodes.Failure;
        }
    }
}
