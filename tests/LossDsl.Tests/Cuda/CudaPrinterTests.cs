using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using LossDsl.Kernels;
using LossDsl.Kernels.Cuda;
using Xunit;

namespace LossDsl.Tests.Cuda;

/// <summary>
/// The CUDA backend's checks that need no GPU: every catalog kernel's CUDA source compiles with NVRTC to PTX
/// for sm_80 and sm_90, the printed source of three specs matches its snapshot, and the device math the
/// printer calls, compiled as host C++, agrees with the reference scalar semantics.
/// </summary>
public class CudaPrinterTests
{
    private static void RequireNvrtc() =>
        Assert.True(
            Nvrtc.IsAvailable,
            Nvrtc.Describe() + ". Run `bash scripts/setup-nvrtc.sh` (Debian 12: libnvrtc11.2 from non-free) or set LOSSDSL_NVRTC."
        );

    // Every catalog loss with a CPU kernel: its plan with and without a mask.
    internal static IEnumerable<(string Name, LossTask Task, KernelPlan Plan)> CatalogPlans()
    {
        foreach (var entry in LossCatalog.All)
        {
            using var loss = entry.Create();
            if (loss is not LossModule module)
                continue;
            foreach (var masked in new[] { false, true })
                if (module.KernelFor(masked) is { } kernel)
                    yield return (entry.Name + (masked ? " (masked)" : ""), entry.Task, kernel.Plan);
        }
    }

    [Fact]
    public void EveryCatalogKernelCompilesToPtxForSm80AndSm90()
    {
        RequireNvrtc();
        var plans = CatalogPlans().ToList();
        Assert.True(plans.Count >= 20, $"only {plans.Count} catalog kernels");
        var compiled = 0;
        foreach (var (name, task, plan) in plans)
        {
            var classes = task == LossTask.Binary ? 1 : 4;
            var keys = new List<CudaKey> { new(classes, task == LossTask.Multiclass, CudaDType.Float32, Sum: false, Check: true) };
            if (task == LossTask.Multiclass)
                keys.Add(new(classes, Index: false, CudaDType.Float32, Sum: true, Check: false));
            foreach (var key in keys)
            {
                var program = CudaPrinter.Print(plan, key, name);
                foreach (var arch in new[] { "compute_80", "compute_90" })
                {
                    var ptx = Nvrtc.CompileToPtx(program.Source, name.Replace(' ', '_') + ".cu", arch);
                    Assert.Contains($".target sm_{arch[^2..]}", ptx, StringComparison.Ordinal);
                    foreach (var kernel in program.Kernels)
                        Assert.Contains($".entry {kernel.Name}(", ptx, StringComparison.Ordinal);
                    compiled++;
                }
            }
        }
        Assert.True(compiled >= 2 * plans.Count);
    }

    [Theory]
    [InlineData("Float16")]
    [InlineData("BFloat16")]
    [InlineData("Float64")]
    public void OtherElementTypesCompile(string dtypeName)
    {
        var dtype = Enum.Parse<CudaDType>(dtypeName);
        RequireNvrtc();
        foreach (var name in new[] { "dice", "focal", "cross-entropy" })
        {
            var entry = LossCatalog.Find(name)!;
            using var loss = (LossModule)entry.Create();
            var plan = loss.KernelFor(masked: true)!.Plan;
            var multiclass = entry.Task == LossTask.Multiclass;
            var program = CudaPrinter.Print(plan, new CudaKey(multiclass ? 5 : 1, multiclass, dtype, Sum: false, Check: true), name);
            var ptx = Nvrtc.CompileToPtx(program.Source, name + ".cu", "compute_80");
            Assert.Contains(".entry lossdsl_pass1(", ptx, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ARegionLossHasTwoPassesAndDeterministicStatistics()
    {
        using var dice = (LossModule)LossCatalog.Find("dice")!.Create();
        var program = CudaPrinter.Print(dice.KernelFor(masked: false)!.Plan, new CudaKey(3, true, CudaDType.Float32, false, false));
        var names = program.Kernels.Select(k => k.Name).ToList();
        Assert.Contains("lossdsl_pass1", names);
        Assert.Contains("lossdsl_pass2", names);
        Assert.Contains("lossdsl_finish", names);
        Assert.True(names.IndexOf("lossdsl_pass1") < names.IndexOf("lossdsl_pass2"));
        // No atomics in the sums: partials per block, summed in (sample, block) order by one thread.
        Assert.DoesNotContain("atomicAdd", program.Source, StringComparison.Ordinal);
        Assert.Contains("ld_block_sum", program.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void MoreClassesThanAreUnrolledAreRefusedWithAReason()
    {
        using var ce = (LossModule)LossCatalog.Find("cross-entropy")!.Create();
        var e = Assert.Throws<NotSupportedException>(() =>
            CudaPrinter.Print(ce.KernelFor(masked: false)!.Plan, new CudaKey(17, true, CudaDType.Float32, false, false))
        );
        Assert.Contains("17 classes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheExecutorRefusesTensorsItCannotRunOnWithAReason()
    {
        using var dice = (LossModule)LossCatalog.Find("dice")!.Create();
        var plan = dice.KernelFor(masked: false)!.Plan;
        using var scope = TorchSharp.torch.NewDisposeScope();
        var x = TorchSharp.torch.zeros(2, 3, 8, 8);
        var t = TorchSharp.torch.zeros(new long[] { 2, 8, 8 }, dtype: TorchSharp.torch.int64);
        var e = Assert.Throws<ArgumentException>(() => CudaExecutor.Run(plan, x, null, t, null, null, -100, sum: false, check: true));
        Assert.Contains("needs a CUDA tensor", e.Message, StringComparison.Ordinal);
        // Without the driver the loader says so instead of throwing from a P/Invoke.
        if (!CudaDriver.IsAvailable)
            Assert.Contains("CUDA driver not found", CudaDriver.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void EveryOperatorTableFunctionHasADeviceFunction() => Assert.Empty(CudaMath.Missing());

    // ------------------------------------------------------------ snapshots

    public static TheoryData<string, int, bool> Snapshots =>
        new()
        {
            { "bce", 1, false },
            { "dice", 3, true },
            { "focal", 4, true },
        };

    [Theory]
    [MemberData(nameof(Snapshots))]
    public void PrintedCudaMatchesItsSnapshot(string name, int classes, bool masked)
    {
        var entry = LossCatalog.Find(name) ?? throw new InvalidOperationException(name);
        using var loss = (LossModule)entry.Create();
        var program = CudaPrinter.Print(
            loss.KernelFor(masked)!.Plan,
            new CudaKey(classes, entry.Task == LossTask.Multiclass, CudaDType.Float32, Sum: false, Check: true),
            name
        );
        var path = Path.Combine(SnapshotFolder(), name + ".cu");
        if (Environment.GetEnvironmentVariable("LOSSDSL_UPDATE_SNAPSHOTS") == "1")
            File.WriteAllText(path, program.Source);
        Assert.True(File.Exists(path), $"no snapshot {path}; run with LOSSDSL_UPDATE_SNAPSHOTS=1 and review it");
        Assert.Equal(File.ReadAllText(path).ReplaceLineEndings("\n"), program.Source);
    }

    private static string SnapshotFolder()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LossDsl.sln")))
            dir = dir.Parent;
        return Path.Combine(
            dir?.FullName ?? throw new InvalidOperationException("repository root not found"),
            "tests",
            "LossDsl.Tests",
            "Cuda",
            "Snapshots"
        );
    }

    // ------------------------------------------------------------ the device math, as host C++

    private static readonly (string Name, Func<double, double> Reference)[] Unary = Operators
        .ElementFunctions.Select(f => (CudaMath.FunctionName(f), f.Scalar))
        .Append(("ld_step", ScalarMath.Step))
        .ToArray();

    [Fact]
    public void DeviceMathCompiledAsHostCodeAgreesWithTheScalarSemantics()
    {
        var gxx = FindCompiler();
        var work = Directory.CreateTempSubdirectory("lossdsl-cuda-math-");
        try
        {
            var main = string.Join(
                "\n",
                new[]
                {
                    "#define LD_HOST_TEST 1",
                    CudaMath.Header,
                    "#include <stdio.h>",
                    "int main(void)",
                    "{",
                    "    double x;",
                    "    while (scanf(\"%lf\", &x) == 1)",
                    "    {",
                }
                    .Concat(Unary.Select(u => $"        printf(\"%.9g %.17g \", (double){u.Name}((float)x), {u.Name}(x));"))
                    .Concat(new[] { "        printf(\"\\n\");", "    }", "    return 0;", "}" })
            );
            var source = Path.Combine(work.FullName, "math.cpp");
            var binary = Path.Combine(work.FullName, "math");
            File.WriteAllText(source, main);
            var (code, output) = Run(gxx, $"-O1 -fno-fast-math -o \"{binary}\" \"{source}\" -lm", null);
            Assert.True(code == 0, "host C++ compile of the device math failed:\n" + output);

            var random = new Random(20261202);
            var xs = new List<double> { 0, -0.0, 1, -1, 1e-7, -1e-7, 0.5, 20, -20, 60, -60, 88, -88, 0.9999, 1e-30 };
            for (var i = 0; i < 400; i++)
                xs.Add((random.NextDouble() * 2 - 1) * Math.Pow(10, random.Next(-6, 3)));
            // Inputs the float path sees exactly: the comparison is of the function, not of the input's rounding.
            xs = xs.Select(x => (double)(float)x).ToList();
            var (runCode, text) = Run(binary, "", string.Join("\n", xs.Select(x => x.ToString("R", CultureInfo.InvariantCulture))) + "\n");
            Assert.True(runCode == 0, text);
            var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(xs.Count, lines.Length);
            for (var row = 0; row < xs.Count; row++)
            {
                var fields = lines[row].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(ParseC).ToArray();
                for (var k = 0; k < Unary.Length; k++)
                {
                    var expected = Unary[k].Reference(xs[row]);
                    // double: 1e-13 relative, or 1e-15 absolute where both sides cancel the same way (log cosh near 0).
                    Assert.True(
                        Agrees(expected, fields[2 * k + 1], 1e-13, 1e-15),
                        $"{Unary[k].Name}(double {xs[row]:R}) = {fields[2 * k + 1]:R}, reference {expected:R}"
                    );
                    // float: a few ulps relative, or absolute near a zero of the function (log near 1, erf near 0).
                    Assert.True(
                        Agrees(expected, fields[2 * k], 4e-7 * 8, 1e-7),
                        $"{Unary[k].Name}(float {xs[row]:R}) = {fields[2 * k]:R}, reference {expected:R}"
                    );
                }
            }
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    // printf's %g: also inf, -inf, nan, -nan.
    private static double ParseC(string f) =>
        f.TrimStart('-') switch
        {
            "inf" => f[0] == '-' ? double.NegativeInfinity : double.PositiveInfinity,
            "nan" => double.NaN,
            _ => double.Parse(f, CultureInfo.InvariantCulture),
        };

    private static bool Agrees(double expected, double actual, double relative, double absolute)
    {
        if (double.IsNaN(expected))
            return double.IsNaN(actual);
        if (double.IsInfinity(expected))
            return expected == actual || Math.Abs(actual) > 3e38;
        // Beyond float's range the float function is right to overflow.
        if (double.IsInfinity(actual) && Math.Abs(expected) > float.MaxValue)
            return Math.Sign(actual) == Math.Sign(expected);
        return Math.Abs(actual - expected) <= Math.Max(absolute, relative * Math.Abs(expected));
    }

    internal static string FindCompiler()
    {
        foreach (var candidate in new[] { "g++", "c++", "clang++" })
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            if (File.Exists(Path.Combine(dir, candidate)))
                return Path.Combine(dir, candidate);
        throw new InvalidOperationException(
            "no host C++ compiler (g++, c++ or clang++) on PATH: the device math is checked by compiling it as host code"
        );
    }

    internal static (int Code, string Output) Run(string file, string arguments, string? input, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = workingDirectory ?? "",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
        };
        using var p = Process.Start(info)!;
        if (input is not null)
        {
            p.StandardInput.Write(input);
            p.StandardInput.Close();
        }
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
