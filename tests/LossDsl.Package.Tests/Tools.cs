using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;

[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]

namespace LossDsl.Package.Tests;

/// <summary>The repository, the build configuration these tests were built in, and child processes.</summary>
internal static class Tools
{
    /// <summary>The repository root: the nearest ancestor of the test assembly that holds LossDsl.sln.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>Debug or Release: the configuration the test project (and so the examples) was built in.</summary>
    public static string Configuration { get; } =
        typeof(Tools).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LossDsl.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"no LossDsl.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>The dotnet host running these tests (so children use the same SDK and runtime).</summary>
    public static string DotnetHost
    {
        get
        {
            var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            if (!string.IsNullOrEmpty(host) && File.Exists(host))
                return host;
            var self = Environment.ProcessPath;
            return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
        }
    }

    /// <summary>The result of a finished child process.</summary>
    public sealed record Result(int ExitCode, string Output, TimeSpan Elapsed)
    {
        /// <summary>The command and its output, for assertion messages.</summary>
        public string Describe(string what) => $"{what} exited {ExitCode} after {Elapsed.TotalSeconds:F0} s; output:\n{Tail(Output, 6000)}";
    }

    /// <summary>
    /// Runs <c>dotnet args</c> in <paramref name="workDir"/> and waits at most <paramref name="timeout"/>
    /// (then kills the whole process tree). stdout and stderr are captured together. MSBuild and test
    /// platform variables of the test host are not passed on, so the child is a plain command-line build.
    /// </summary>
    public static Result Dotnet(string workDir, TimeSpan timeout, params string[] args)
    {
        var info = new ProcessStartInfo(DotnetHost)
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        foreach (var key in info.Environment.Keys.ToList())
            if (
                key.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)
                || key.Equals("DOTNET_HOST_PATH", StringComparison.OrdinalIgnoreCase)
            )
                info.Environment.Remove(key);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        info.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";

        var output = new StringBuilder();
        var clock = Stopwatch.StartNew();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (output)
                    output.AppendLine(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (output)
                    output.AppendLine(e.Data);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            lock (output)
                output.AppendLine($"[killed after {timeout.TotalSeconds:F0} s]");
            return new Result(-1, output.ToString(), clock.Elapsed);
        }
        process.WaitForExit(); // drains the asynchronous readers
        lock (output)
            return new Result(process.ExitCode, output.ToString(), clock.Elapsed);
    }

    /// <summary>The last <paramref name="chars"/> characters of <paramref name="text"/>.</summary>
    public static string Tail(string text, int chars) => text.Length <= chars ? text : "…" + text[^chars..];

    /// <summary>The lines of <paramref name="output"/> that start with <paramref name="prefix"/>.</summary>
    public static IReadOnlyList<string> LinesStartingWith(string output, string prefix) =>
        output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).ToList();
}
