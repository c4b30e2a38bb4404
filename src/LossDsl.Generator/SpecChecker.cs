using System;
using System.Collections.Generic;
using System.Linq;

namespace LossDsl.Generator;

/// <summary>
/// The generator's check/compile step: runs the core's <see cref="Checker"/> on a parsed spec, maps its
/// diagnostics back to source, rejects a duplicate generated name and compiles what can be emitted
/// (<see cref="Compiler"/>: simplify, lower, differentiate). Pure: plain models in and out.
/// </summary>
internal static class SpecChecker
{
    /// <summary>Checks and compiles one parsed spec.</summary>
    /// <param name="parsed">The parse step's result.</param>
    /// <param name="duplicates">The generated type names declared more than once.</param>
    public static CheckedSpec Check(SpecResult parsed, EquatableArray<string> duplicates)
    {
        var diagnostics = parsed.Diagnostics.Items.ToList();
        if (parsed.Spec is not { } spec)
            return new CheckedSpec(null, EquatableArray.From(diagnostics));
        try
        {
            return DeepStack.Run(() => CheckCore(parsed, spec, duplicates, diagnostics));
        }
        catch (Exception ex) when (DeepStack.IsTooDeep(ex))
        {
            diagnostics.Add(
                new DiagnosticInfo(
                    DiagnosticCatalog.NestedTooDeeply.Id,
                    EquatableArray.From(new[] { spec.MethodName }),
                    parsed.NameLocation
                )
            );
        }
        catch (Exception ex)
        {
            diagnostics.Add(
                new DiagnosticInfo(
                    DiagnosticCatalog.InternalError.Id,
                    EquatableArray.From(new[] { spec.MethodName, ex.GetType().Name + ": " + ex.Message }),
                    parsed.NameLocation
                )
            );
        }
        return new CheckedSpec(null, EquatableArray.From(diagnostics.Distinct()));
    }

    private static CheckedSpec CheckCore(
        SpecResult parsed,
        LossSpec spec,
        EquatableArray<string> duplicates,
        List<DiagnosticInfo> parseDiagnostics
    )
    {
        var diagnostics = new List<DiagnosticInfo>(parseDiagnostics);
        var locations = new Locator(parsed);
        foreach (var d in Checker.Check(spec))
            diagnostics.Add(new DiagnosticInfo(d.Descriptor.Id, d.Arguments, locations.Find(d.Node) ?? parsed.NameLocation));
        diagnostics = diagnostics.Distinct().ToList();

        if (parsed.FullName is { } full && duplicates.Contains(full))
        {
            diagnostics.Add(
                new DiagnosticInfo(
                    DiagnosticCatalog.DuplicateName.Id,
                    EquatableArray.From(new[] { spec.LossName, spec.Namespace ?? "<global>" }),
                    parsed.NameLocation
                )
            );
            return new CheckedSpec(null, EquatableArray.From(diagnostics));
        }
        if (diagnostics.Any(d => d.IsError))
            return new CheckedSpec(null, EquatableArray.From(diagnostics));

        var compiled = Compiler.Compile(spec);
        if (compiled.Unsupported is { } unsupported)
            diagnostics.Add(
                new DiagnosticInfo(
                    DiagnosticCatalog.AutogradFallback.Id,
                    EquatableArray.From(new[] { spec.MethodName, unsupported }),
                    parsed.NameLocation
                )
            );
        return new CheckedSpec(new EmitModel(spec, compiled), EquatableArray.From(diagnostics));
    }

    // The location of a checker diagnostic's node: its own if it was parsed from the spec, else that of
    // its nearest parsed ancestor (nodes made by inlining another spec map to the call).
    private sealed class Locator
    {
        private readonly Expr _body;
        private readonly Dictionary<Expr, LocationInfo> _own = new(SpecParser.ReferenceComparer.Instance);

        public Locator(SpecResult parsed)
        {
            _body = parsed.Spec!.Body;
            foreach (var l in parsed.Locations)
                if (!_own.ContainsKey(l.Node))
                    _own[l.Node] = l.Location;
        }

        public LocationInfo? Find(Expr? node)
        {
            if (node is null)
                return null;
            if (_own.TryGetValue(node, out var loc))
                return loc;
            // Depth-first from the body, carrying the nearest parsed ancestor's location; each node once.
            var visited = new HashSet<Expr>(SpecParser.ReferenceComparer.Instance);
            var stack = new Stack<(Expr Node, LocationInfo? Nearest)>();
            stack.Push((_body, null));
            while (stack.Count > 0)
            {
                var (e, nearest) = stack.Pop();
                if (!visited.Add(e))
                    continue;
                if (_own.TryGetValue(e, out var own))
                    nearest = own;
                if (ReferenceEquals(e, node) || e.Equals(node))
                    return nearest;
                var children = Structure.Children(e);
                for (var i = children.Length - 1; i >= 0; i--)
                    stack.Push((children[i], nearest));
            }
            return null;
        }
    }
}
