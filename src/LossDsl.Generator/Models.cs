using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace LossDsl.Generator;

/// <summary>A source location as plain data (Roslyn's <see cref="Location"/> is not equatable across runs).</summary>
/// <param name="Path">The file path.</param>
/// <param name="Span">The character span.</param>
/// <param name="Lines">The line/column span.</param>
internal sealed record LocationInfo(string Path, TextSpan Span, LinePositionSpan Lines)
{
    /// <summary>The location's data, or null for locations outside source.</summary>
    public static LocationInfo? From(Location? location) =>
        location is null || location.SourceTree is null
            ? null
            : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);

    /// <summary>Back to a Roslyn location.</summary>
    public Location ToLocation() => Location.Create(Path, Span, Lines);
}

/// <summary>A diagnostic as plain data: catalog id, message arguments, location.</summary>
/// <param name="Id">The <c>LD</c> id.</param>
/// <param name="Arguments">The message arguments.</param>
/// <param name="Location">Where it applies.</param>
internal sealed record DiagnosticInfo(string Id, EquatableArray<string> Arguments, LocationInfo? Location)
{
    /// <summary>Creates the plain-data form of a diagnostic.</summary>
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, Location? location, params string[] args) =>
        new(descriptor.Id, EquatableArray.From(args), LocationInfo.From(location));

    /// <summary>True when the catalog entry is an error.</summary>
    public bool IsError => Diagnostics.Descriptor(Id).Severity == Severity.Error;
}

/// <summary>Where one node of a spec body was read from.</summary>
/// <param name="Node">The node, as the parser built it.</param>
/// <param name="Location">Its source location.</param>
internal sealed record NodeLocation(Expr Node, LocationInfo Location);

/// <summary>What the parse step learned from one <c>[Loss]</c> method: the spec (when it could be read), the
/// parser's diagnostics and where each node came from.</summary>
/// <param name="Spec">The spec, or null when the method could not be read as one.</param>
/// <param name="Diagnostics">Parser diagnostics.</param>
/// <param name="NameLocation">The method name's location (for diagnostics that concern the whole spec).</param>
/// <param name="Locations">The source location of each node the parser read, in reading order.</param>
internal sealed record SpecResult(
    LossSpec? Spec,
    EquatableArray<DiagnosticInfo> Diagnostics,
    LocationInfo? NameLocation,
    EquatableArray<NodeLocation> Locations = default
)
{
    /// <summary>The generated type's full name (namespace + loss name), for duplicate detection.</summary>
    public string? FullName => Spec is null ? null : (Spec.Namespace is null ? "" : Spec.Namespace + ".") + Spec.LossName;
}

/// <summary>What the emit step reads: the spec and its compiled form, no locations, so an edit that only
/// moves a spec in its file leaves it equal and the emission cached.</summary>
/// <param name="Spec">The spec.</param>
/// <param name="Compiled">Its compiled body and gradient.</param>
internal sealed record EmitModel(LossSpec Spec, CompiledSpec Compiled);

/// <summary>The check/compile step's result for one spec: every diagnostic, and what to emit (null when
/// an error or a duplicate name stops the emission).</summary>
/// <param name="Emission">The emit step's input, or null.</param>
/// <param name="Diagnostics">Parser, checker and compiler diagnostics.</param>
internal sealed record CheckedSpec(EmitModel? Emission, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>One generated file (or none) and the diagnostics of emitting it (none unless emission failed).</summary>
/// <param name="HintName">The hint name, or null when nothing is generated.</param>
/// <param name="Source">The source text, or null.</param>
/// <param name="Diagnostics">Diagnostics to report.</param>
internal sealed record GeneratedFile(string? HintName, string? Source, EquatableArray<DiagnosticInfo> Diagnostics);
