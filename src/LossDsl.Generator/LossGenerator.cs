using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace LossDsl.Generator;

/// <summary>The names of the pipeline's steps, for incremental-caching tests.</summary>
internal static class TrackingNames
{
    /// <summary>Parse: each <c>[Loss]</c> method read into a spec, with the parser's diagnostics and node locations.</summary>
    public const string Specs = nameof(Specs);

    /// <summary>The generated type names that occur more than once.</summary>
    public const string Duplicates = nameof(Duplicates);

    /// <summary>Check/compile: each spec checked (diagnostics located) and, when it can be emitted, compiled.</summary>
    public const string Checked = nameof(Checked);

    /// <summary>The diagnostics of each spec, reported apart from its source.</summary>
    public const string Diagnostics = nameof(Diagnostics);

    /// <summary>What emission reads (spec and compiled form, no locations).</summary>
    public const string EmitModels = nameof(EmitModels);

    /// <summary>Emit: each spec's generated file.</summary>
    public const string Sources = nameof(Sources);
}

/// <summary>
/// The LossDsl source generator: every <c>[Loss]</c> method becomes a <c>{Name}Loss</c> module and a
/// functional method on its declaring type. Three named steps, each a pure function of equatable models:
/// parse (<see cref="SpecParser"/>), check/compile (<see cref="SpecChecker"/>: the core's checker and
/// <see cref="Compiler"/>) and emit (<see cref="Emitter"/>). Diagnostics and sources flow apart: the
/// emit step reads no location, so an edit above a spec re-reports its diagnostics and keeps its source.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class LossGenerator : IIncrementalGenerator
{
    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var specs = context
            .SyntaxProvider.ForAttributeWithMetadataName(
                "LossDsl.LossAttribute",
                static (node, _) => node is Microsoft.CodeAnalysis.CSharp.Syntax.MethodDeclarationSyntax,
                static (ctx, ct) => SpecParser.Parse(ctx, ct)
            )
            .WithTrackingName(TrackingNames.Specs);

        var duplicates = specs
            .Select(static (r, _) => r.FullName ?? "")
            .Collect()
            .Select(
                static (names, _) =>
                    EquatableArray.From(
                        names
                            .Where(n => n.Length > 0)
                            .GroupBy(n => n)
                            .Where(g => g.Count() > 1)
                            .Select(g => g.Key)
                            .OrderBy(n => n, StringComparer.Ordinal)
                    )
            )
            .WithTrackingName(TrackingNames.Duplicates);

        var checkedSpecs = specs
            .Combine(duplicates)
            .Select(static (pair, _) => SpecChecker.Check(pair.Left, pair.Right))
            .WithTrackingName(TrackingNames.Checked);

        var diagnostics = checkedSpecs.Select(static (c, _) => c.Diagnostics).WithTrackingName(TrackingNames.Diagnostics);
        context.RegisterSourceOutput(
            diagnostics,
            static (spc, list) =>
            {
                foreach (var d in list)
                    spc.ReportDiagnostic(Diagnostics.ToDiagnostic(d));
            }
        );

        var sources = checkedSpecs
            .Select(static (c, _) => c.Emission)
            .Where(static m => m is not null)
            .WithTrackingName(TrackingNames.EmitModels)
            .Select(static (m, _) => Emit(m!))
            .WithTrackingName(TrackingNames.Sources);
        context.RegisterSourceOutput(
            sources,
            static (spc, file) =>
            {
                foreach (var d in file.Diagnostics)
                    spc.ReportDiagnostic(Diagnostics.ToDiagnostic(d));
                if (file.HintName is not null && file.Source is not null)
                    spc.AddSource(file.HintName, file.Source);
            }
        );
    }

    /// <summary>
    /// The emit step: the generated source of a checked, compiled spec. Emission does not fail on a spec
    /// the checker accepted; should it, the diagnostic names the spec (the model carries no location).
    /// </summary>
    internal static GeneratedFile Emit(EmitModel model)
    {
        try
        {
            var (hint, source) = DeepStack.Run(() => Emitter.Emit(model.Spec, model.Compiled));
            return new GeneratedFile(hint, source, default);
        }
        catch (Exception ex) when (DeepStack.IsTooDeep(ex))
        {
            return Failed(DiagnosticCatalog.NestedTooDeeply, model.Spec.MethodName);
        }
        catch (Exception ex)
        {
            return Failed(DiagnosticCatalog.InternalError, model.Spec.MethodName, ex.GetType().Name + ": " + ex.Message);
        }
    }

    // No file, and one diagnostic naming the spec (the emit model carries no location).
    private static GeneratedFile Failed(DiagnosticDescriptor descriptor, params string[] arguments) =>
        new(null, null, EquatableArray.From(new[] { new DiagnosticInfo(descriptor.Id, EquatableArray.From(arguments), null) }));
}
