using System;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace LossDsl.Cli.Tests;

/// <summary>The result of running the built tool as a separate process.</summary>
public sealed record CliRun(int ExitCode, string Stdout, string Stderr);

/// <summary>Runs the built lossdsl (src/LossDsl.Cli's own build output) with `dotnet LossDsl.Cli.dll`.</summary>
public static class CliProcess
{
    public static string RepoRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LossDsl.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("LossDsl.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The CLI dll of the same configuration as this test assembly.</summary>
    public static string CliDll
    {
        get
        {
            var configuration = AppContext.BaseDirectory.Split(Path.DirectorySeparatorChar).Contains("Debug") ? "Debug" : "Release";
            var path = Path.Combine(RepoRoot, "src", "LossDsl.Cli", "bin", configuration, "net10.0", "LossDsl.Cli.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("build src/LossDsl.Cli first", path);
        }
    }

    public static CliRun Run(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(CliDll);
        foreach (var a in args)
            info.ArgumentList.Add(a);
        info.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("lossdsl " + string.Join(" ", args) + " did not finish in 5 minutes");
        }
        return new CliRun(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs the tool and fails the test with its exit code and standard error unless it exits 0.</summary>
    public static CliRun Succeeds(params string[] args)
    {
        var run = Run(args);
        Xunit.Assert.True(run.ExitCode == 0, $"lossdsl {string.Join(" ", args)}: exit {run.ExitCode}: {run.Stderr}");
        return run;
    }

    /// <summary>A fresh empty directory under the system temp folder.</summary>
    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "lossdsl-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Lines of stderr that are not libtorch's NNPACK notice (printed on CPUs NNPACK does not support).</summary>
    public static string[] ErrorLines(CliRun run) =>
        run
            .Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.Contains("NNPACK", StringComparison.Ordinal))
            .ToArray();
}
