using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.CompilerServices;

namespace LossDsl.Cli.Tests;

/// <summary>Runs the built <c>lossdsl</c> as a process.</summary>
public static class Cli
{
    public static string RepoRoot([CallerFilePath] string file = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "..", ".."));

    public static string Dll
    {
        get
        {
            var config = typeof(Cli).Assembly.Location.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
            return Path.Combine(RepoRoot(), "src", "LossDsl.Cli", "bin", config, "net10.0", "LossDsl.Cli.dll");
        }
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(string stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(600_000)) p.Kill(entireProcessTree: true);
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
