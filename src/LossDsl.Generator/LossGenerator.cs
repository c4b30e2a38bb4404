using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace LossDsl.Generator;

/// <summary>The names of the pipeline's steps, for incremental-caching tests.</summary>
public static class TrackingNames
{
    /// <summary>Each <c>[Loss]</c> method read into a spec (or diagnostics).</summary>
    public const string Specs = nameof(Specs);

    /// <summary>The generated type names that occur more than once.</summary>
    public const string Duplicates = nameof(Duplicates);

    /// <summary>Each spec's generated file.</summary>
    public const string Files = nameof(Files);
}

/// <summary>
/// The LossDsl source generator: every <c>[Loss]</c> method becomes a <c>{Name}Loss</c> module and a
/// functional method on its declaring type. Reading (<see cref="SpecParser"/>), checking
/// (<see cref="Checker"/>) and emitting (<see cref="Emitter"/>) are pure functions of equatable
/// models, so an unchanged spec is never re-emitted.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class LossGenerator : IIncrementalGenerator
{
    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var specs = context.SyntaxProvider
            .ForAttributeWithMetadataName("LossDsl.LossAttribute",
                static (node, _) => node is Microsoft.CodeAnalysis.CSharp.Syntax.MethodDeclarationSyntax,
                static (ctx, ct) => SpecParser.Parse(ctx, ct))
            .WithTrackingName(TrackingNames.Specs);

        var duplicates = specs
            .Select(static (r, _) => r.FullName ?? "")
            .Collect()
            .Select(static (names, _) => EquatableArray.From(
                names.Where(n => n.Length > 0).GroupBy(n => n).Where(g => g.Count() > 1).Select(g => g.Key).OrderBy(n => n, StringComparer.Ordinal)))
            .WithTrackingName(TrackingNames.Duplicates);

        var files = specs.Combine(duplicates)
            .Select(static (pair, _) => Build(pair.Left, pair.Right))
            .WithTrackingName(TrackingNames.Files);

        context.RegisterSourceOutput(files, static (spc, file) =>
        {
            foreach (var d in file.Diagnostics) spc.ReportDiagnostic(Diagnostics.ToDiagnostic(d));
            if (file.HintName is not null && file.Source is not null) spc.AddSource(file.HintName, file.Source);
        });
    }

    /// <summary>Checks for a duplicate name and emits the spec's source (or only its diagnostics).</summary>
    public static GeneratedFile Build(SpecResult result, EquatableArray<string> duplicates)
    {
        var diagnostics = result.Diagnostics.Items.ToList();
        if (result.Spec is { } spec && result.FullName is { } full && duplicates.Contains(full))
        {
            diagnostics.Add(new DiagnosticInfo(DiagnosticCatalog.DuplicateName.Id,
                EquatableArray.From(new[] { spec.LossName, spec.Namespace ?? "<global>" }), result.NameLocation));
            return new GeneratedFile(null, null, EquatableArray.From(diagnostics));
        }
        if (!result.CanEmit) return new GeneratedFile(null, null, EquatableArray.From(diagnostics));
        try
        {
            var emitted = result.Spec!;
            var (hint, source, unsupported) = DeepStack.Run(() =>
            {
                var (h, text) = Emitter.Emit(emitted);
                return (h, text, Differentiate.Gradient(Emitter.Compile(emitted.Body)).Unsupported);
            });
            if (unsupported is not null)
                diagnostics.Add(new DiagnosticInfo(DiagnosticCatalog.AutogradFallback.Id,
                    EquatableArray.From(new[] { emitted.MethodName, unsupported }), result.NameLocation));
            return new GeneratedFile(hint, source, EquatableArray.From(diagnostics));
        }
        catch (Exception ex) when (DeepStack.IsTooDeep(ex))
        {
            diagnostics.Add(new DiagnosticInfo(DiagnosticCatalog.NestedTooDeeply.Id,
                EquatableArray.From(new[] { result.Spec!.MethodName }), result.NameLocation));
            return new GeneratedFile(null, null, EquatableArray.From(diagnostics));
        }
        catch (Exception ex)
        {
            diagnostics.Add(new DiagnosticInfo(DiagnosticCatalog.InternalError.Id,
                EquatableArray.From(new[] { result.Spec!.MethodName, ex.GetType().Name + ": " + ex.Message }), result.NameLocation));
            return new GeneratedFile(null, null, EquatableArray.From(diagnostics));
        }
    }
}
