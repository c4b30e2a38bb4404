using System;
using System.Diagnostics;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace LossDsl.Generator.Tests;

/// <summary>
/// The generator's time is linear in the size of a spec: values a spec shares are read, checked,
/// compiled, differentiated and emitted once, not once per use (a chain of locals each used twice
/// used to take time exponential in its length: 2 s at 10 levels, minutes at 14), and long sums and
/// long if-chains take seconds, not minutes.
/// </summary>
public class ScaleTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static string Members(Action<StringBuilder> body, string parameters = "")
    {
        var sb = new StringBuilder();
        sb.AppendLine("    [Loss(LossTask.Binary)]");
        sb.AppendLine($"    public static Expr Big(Expr logits, Expr target{parameters})");
        sb.AppendLine("    {");
        body(sb);
        sb.AppendLine("    }");
        return Harness.Spec(sb.ToString());
    }

    // a1 = a0 * a0, a2 = a1 * a1, ...: as a tree, a_n has 2^n leaves.
    private static string Chain(int levels) =>
        Members(sb =>
        {
            sb.AppendLine("        var a0 = Sigmoid(logits);");
            for (var i = 1; i <= levels; i++)
                sb.AppendLine($"        var a{i} = a{i - 1} * a{i - 1};");
            sb.AppendLine($"        return Mean(a{levels} * target, Over.All);");
        });

    // The same with a hyperparameter-only chain: scalar values shared as much.
    private static string ScalarChain(int levels) =>
        Members(
            sb =>
            {
                sb.AppendLine("        var g0 = gamma + 1;");
                for (var i = 1; i <= levels; i++)
                    sb.AppendLine($"        var g{i} = g{i - 1} * g{i - 1} / (g{i - 1} + 1);");
                sb.AppendLine($"        return Mean(Sigmoid(logits) * g{levels} * target, Over.All);");
            },
            ", double gamma = 2.0"
        );

    private TimeSpan Time(Func<GeneratorRunResult> run, out GeneratorRunResult result)
    {
        var sw = Stopwatch.StartNew();
        result = run();
        output.WriteLine($"generator run: {sw.Elapsed.TotalSeconds:F3} s");
        return sw.Elapsed;
    }

    private static void AssertGenerated(GeneratorRunResult result, string what)
    {
        Assert.Null(result.Exception);
        Assert.Empty(result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
        Assert.True(result.GeneratedSources.Length == 1, $"{what}: no generated source; {string.Join(", ", result.Diagnostics)}");
    }

    [Fact]
    public void AChainOf200SharedLocalsGoesThroughTheGeneratorInWellUnderASecond()
    {
        Harness.Run(Chain(20)); // warm-up: the first run pays for JIT compilation
        var elapsed = Time(() => Harness.Run(Chain(200)), out var result);
        AssertGenerated(result, "chain");
        Assert.True(elapsed < TimeSpan.FromSeconds(1), $"200 levels took {elapsed.TotalSeconds:F2} s");

        // The shared values are locals of the generated code, computed once each, not re-expanded trees.
        var code = result.GeneratedSources.Single().SourceText.ToString();
        Assert.Contains("var a200 = a199 * a199;", code);
        Assert.True(code.Length < 200_000, $"generated {code.Length} characters");
        Assert.Empty(Harness.CompileWithRuntime(result, Chain(200)));
    }

    [Fact]
    public void AChainOf200SharedHyperparameterValuesIsEmittedWithLocals()
    {
        Harness.Run(ScalarChain(20));
        var elapsed = Time(() => Harness.Run(ScalarChain(200)), out var result);
        AssertGenerated(result, "scalar chain");
        Assert.True(elapsed < TimeSpan.FromSeconds(3), $"200 levels took {elapsed.TotalSeconds:F2} s");
        var code = result.GeneratedSources.Single().SourceText.ToString();
        // g200 is used once and stays inline; every value used twice is a double local.
        Assert.Contains("var g199 = ((g198 * g198) / (g198 + 1.0));", code);
        Assert.True(code.Length < 200_000, $"generated {code.Length} characters");
        Assert.Empty(Harness.CompileWithRuntime(result, ScalarChain(200)));
    }

    [Fact]
    public void The20ChainLevelsThatUsedToTakeMinutesAreInstant()
    {
        // Checks, ranges, simplification, lowering, the gradient and the emitter all see a DAG of 20
        // levels here; any of them expanding it as a tree would visit a million nodes.
        Harness.Run(Chain(5));
        var elapsed = Time(() => Harness.Run(Chain(20)), out var result);
        AssertGenerated(result, "chain");
        Assert.True(elapsed < TimeSpan.FromSeconds(1), $"20 levels took {elapsed.TotalSeconds:F2} s");
    }

    [Fact]
    public void ASumOf20000TermsTakesSeconds()
    {
        // p + 1.0 * p + 2.0 * p + ...: one C# expression nested 20,000 deep. Nullable analysis is off in
        // this compilation: it is the C# compiler's own cost for so long an expression (seconds, paid by
        // any build of it), not the generator's.
        var source = Members(sb =>
        {
            sb.AppendLine("        var p = Sigmoid(logits);");
            sb.Append("        return Mean(p");
            for (var i = 1; i < 20_000; i++)
                sb.Append($" + {i}.0 * p");
            sb.AppendLine(" * target, Over.All);");
        });
        Harness.Run(Chain(5));
        var compilation = CSharpCompilation.Create(
            "Specs",
            new[] { CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest), path: "Spec0.cs") },
            Harness.Compile().References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary)
        );
        var elapsed = Time(() => Harness.Run(compilation), out var result);
        AssertGenerated(result, "sum");
        // Before: over 30 s on an idle machine; the bound leaves room for a loaded 2-core CI machine.
        Assert.True(elapsed < TimeSpan.FromSeconds(45), $"20,000 terms took {elapsed.TotalSeconds:F2} s");
        var generated = result.GeneratedSources.Single();
        Assert.DoesNotContain(generated.SyntaxTree.GetDiagnostics(), d => d.Severity == DiagnosticSeverity.Error);
    }

    [Fact]
    public void AThousandIfsTakeSeconds()
    {
        // if (k == 0) return ...; if (k == 1) return ...; ...: choices nested 1,000 deep.
        var source = Members(
            sb =>
            {
                sb.AppendLine("        var p = Sigmoid(logits);");
                for (var i = 0; i < 1000; i++)
                    sb.AppendLine($"        if (k == {i}) return Mean({i + 1}.0 * p * target, Over.All);");
                sb.AppendLine("        return Mean(p, Over.All);");
            },
            ", int k = 3"
        );
        Harness.Run(Chain(5));
        var elapsed = Time(() => Harness.Run(source), out var result);
        AssertGenerated(result, "ifs");
        // About 3 s alone on the 2-core CI machine, 5x that while the other test assemblies load both cores: the bound
        // is for a blow-up in the nesting depth (quadratic or worse takes many minutes), not for speed.
        Assert.True(elapsed < TimeSpan.FromSeconds(60), $"1,000 ifs took {elapsed.TotalSeconds:F2} s");
        var generated = result.GeneratedSources.Single();
        Assert.DoesNotContain(generated.SyntaxTree.GetDiagnostics(), d => d.Severity == DiagnosticSeverity.Error);
    }

    [Fact]
    public void AThousandNestedIfBlocksTakeSeconds()
    {
        // if (k > 0) { if (k > 1) { ... return ...; } } return ...: blocks nested 1,000 deep.
        var source = Members(
            sb =>
            {
                sb.AppendLine("        var p = Sigmoid(logits);");
                for (var i = 0; i < 1000; i++)
                    sb.AppendLine($"        if (k > {i}) {{");
                sb.AppendLine("        return Mean(p * target, Over.All);");
                for (var i = 0; i < 1000; i++)
                    sb.AppendLine("        }");
                sb.AppendLine("        return Mean(p, Over.All);");
            },
            ", int k = 3"
        );
        Harness.Run(Chain(5));
        var elapsed = Time(() => Harness.Run(source), out var result);
        AssertGenerated(result, "nested ifs");
        // About 3 s alone on the 2-core CI machine, 5x that while the other test assemblies load both cores: the bound
        // is for a blow-up in the nesting depth (quadratic or worse takes many minutes), not for speed.
        Assert.True(elapsed < TimeSpan.FromSeconds(60), $"1,000 nested ifs took {elapsed.TotalSeconds:F2} s");
    }
}
