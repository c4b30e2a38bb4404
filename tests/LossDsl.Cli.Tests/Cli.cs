using System;
using System.Diagnostics;
using System.IO;

namespace LossDsl.Cli.Tests;

/// <summary>Runs the built <c>lossdsl</c> as a process.</summary>
public static class Cli
{
    /// <summary>The repository root, found above the test assembly (source paths are mapped in CI builds).</summary>
    public static string RepoRoot() => CliProcess.RepoRoot;

    public static string Dll => CliProcess.CliDll;

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
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(600_000))
            p.Kill(entireProcessTree: true);
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
