using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace LossDsl.Generator;

/// <summary>Maps the core's diagnostic catalog onto Roslyn descriptors.</summary>
internal static class Diagnostics
{
    private const string Category = "LossDsl";

    private static readonly System.Collections.Generic.Dictionary<string, Microsoft.CodeAnalysis.DiagnosticDescriptor> Roslyn =
        DiagnosticCatalog.All.ToDictionary(d => d.Id, ToRoslyn);

    /// <summary>The catalog entry with this id.</summary>
    public static DiagnosticDescriptor Descriptor(string id) =>
        DiagnosticCatalog.All.FirstOrDefault(d => d.Id == id) ?? DiagnosticCatalog.InternalError;

    /// <summary>The Roslyn descriptor for a catalog id.</summary>
    public static Microsoft.CodeAnalysis.DiagnosticDescriptor For(string id) =>
        Roslyn.TryGetValue(id, out var d) ? d : Roslyn[DiagnosticCatalog.InternalError.Id];

    /// <summary>Creates the Roslyn diagnostic.</summary>
    public static Diagnostic ToDiagnostic(DiagnosticInfo info) =>
        Diagnostic.Create(For(info.Id), info.Location?.ToLocation() ?? Location.None, info.Arguments.Items.Cast<object>().ToArray());

    private static Microsoft.CodeAnalysis.DiagnosticDescriptor ToRoslyn(DiagnosticDescriptor d) =>
        new(
            d.Id,
            d.Title,
            d.MessageFormat,
            Category,
            d.Severity switch
            {
                Severity.Error => DiagnosticSeverity.Error,
                Severity.Warning => DiagnosticSeverity.Warning,
                _ => DiagnosticSeverity.Info,
            },
            isEnabledByDefault: true,
            helpLinkUri: "https://github.com/lossdsl/lossdsl/blob/main/docs/dsl.md#" + d.Id.ToLowerInvariant()
        );

    /// <summary>Shortens source text for a message: one line, at most 60 characters.</summary>
    public static string Snippet(SyntaxNode node)
    {
        var text = string.Join(" ", node.ToString().Split(new[] { '\r', '\n', '\t', ' ' }, StringSplitOptions.RemoveEmptyEntries));
        return text.Length <= 60 ? text : text.Substring(0, 57) + "...";
    }
}
