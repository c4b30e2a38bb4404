using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace LossDsl.Generator;

// Signature helpers: hyperparameters, their defaults as source, enclosing types, the summary.
internal sealed partial class SpecParser
{
    // ---------------------------------------------------------------- signature helpers

    private SpecParameter? Hyperparameter(IParameterSymbol p, Location loc)
    {
        if (p.RefKind != RefKind.None || p.IsParams)
        {
            Report(DiagnosticCatalog.InvalidHyperparameter, loc, p.Name, "is passed by reference or as params");
            return null;
        }
        var type = p.Type;
        ParamKind kind;
        string typeName;
        switch (type.SpecialType)
        {
            case SpecialType.System_Double:
                kind = ParamKind.Real;
                typeName = "double";
                break;
            case SpecialType.System_Single:
                kind = ParamKind.Real;
                typeName = "float";
                break;
            case SpecialType.System_Boolean:
                kind = ParamKind.Bool;
                typeName = "bool";
                break;
            case SpecialType.System_Int32:
                kind = ParamKind.Integer;
                typeName = "int";
                break;
            case SpecialType.System_Int64:
                kind = ParamKind.Integer;
                typeName = "long";
                break;
            default:
                if (type.TypeKind == TypeKind.Enum)
                {
                    kind = ParamKind.Enum;
                    typeName = type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
                    break;
                }
                Report(DiagnosticCatalog.InvalidHyperparameter, loc, p.Name, $"has type '{type.ToDisplayString()}'");
                return null;
        }
        if (!p.HasExplicitDefaultValue)
        {
            Report(DiagnosticCatalog.InvalidHyperparameter, loc, p.Name, "has no default value");
            return null;
        }
        var text = DefaultText(type, p.ExplicitDefaultValue);
        if (text is null)
        {
            Report(DiagnosticCatalog.InvalidHyperparameter, loc, p.Name, "has a default value that cannot be written as a constant");
            return null;
        }
        return new SpecParameter(p.Name, ParamRole.Hyper, kind, typeName, text);
    }

    private static string? DefaultText(ITypeSymbol type, object? value)
    {
        if (value is null)
            return null;
        if (type.TypeKind == TypeKind.Enum && type is INamedTypeSymbol e)
        {
            var member = e.GetMembers().OfType<IFieldSymbol>().FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, value));
            var full = type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
            return member is null ? $"({full}){Convert.ToInt64(value, CultureInfo.InvariantCulture)}" : $"{full}.{member.Name}";
        }
        return value switch
        {
            bool b => b ? "true" : "false",
            double d => Number(d),
            float f => Number(f) + "f",
            int i => i.ToString(CultureInfo.InvariantCulture),
            long l => l.ToString(CultureInfo.InvariantCulture) + "L",
            _ => null,
        };
    }

    private static string Number(double d) => Printer.DoubleLiteral(d);

    private static bool IsType(ITypeSymbol? type, string fullName) => type is not null && type.ToDisplayString() == fullName;

    private static bool IsPartial(INamedTypeSymbol type) =>
        type.DeclaringSyntaxReferences.Length > 0
        && type.DeclaringSyntaxReferences.Any(r =>
            r.GetSyntax() is TypeDeclarationSyntax t && t.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword))
        );

    private static ContainingType Describe(INamedTypeSymbol type)
    {
        var keyword = type.IsRecord
            ? (type.TypeKind == TypeKind.Struct ? "record struct" : "record")
            : type.TypeKind switch
            {
                TypeKind.Struct => "struct",
                TypeKind.Interface => "interface",
                _ => "class",
            };
        var name =
            type.Name + (type.TypeParameters.Length == 0 ? "" : "<" + string.Join(", ", type.TypeParameters.Select(t => t.Name)) + ">");
        var modifiers = new List<string>();
        switch (type.DeclaredAccessibility)
        {
            case Accessibility.Public:
                modifiers.Add("public");
                break;
            case Accessibility.Internal:
                modifiers.Add("internal");
                break;
            case Accessibility.Private:
                modifiers.Add("private");
                break;
            case Accessibility.Protected:
                modifiers.Add("protected");
                break;
            case Accessibility.ProtectedOrInternal:
                modifiers.Add("protected internal");
                break;
            case Accessibility.ProtectedAndInternal:
                modifiers.Add("private protected");
                break;
        }
        if (type.IsStatic)
            modifiers.Add("static");
        modifiers.Add("partial");
        return new ContainingType(keyword, name, string.Join(" ", modifiers));
    }

    private static string? Summary(IMethodSymbol method)
    {
        var xml = method.GetDocumentationCommentXml();
        if (string.IsNullOrEmpty(xml))
            return null;
        var m = Regex.Match(xml, "<summary>(.*?)</summary>", RegexOptions.Singleline);
        if (!m.Success)
            return null;
        var text = Regex.Replace(
            m.Groups[1].Value,
            "<(see|paramref|typeparamref)\\s+(cref|name|langword)=\"(?:[A-Z]:)?([^\"]*)\"\\s*/>",
            "$3"
        );
        text = Regex.Replace(text, "<[^>]+>", "");
        text = Regex.Replace(text, "\\s+", " ").Trim();
        text = text.Replace("&lt;", "<").Replace("&gt;", ">").Replace("&amp;", "&");
        return text.Length == 0 ? null : text;
    }
}
