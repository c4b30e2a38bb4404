using System;
using System.Globalization;
using System.Linq;

namespace LossDsl;

/// <summary>
/// Checks of hyperparameter values: what generated constructors (and functional forms, which construct
/// the module) call before anything is allocated, and what <see cref="Dsl.Require"/> throws. Every
/// failure is an <see cref="ArgumentOutOfRangeException"/> whose <see cref="ArgumentException.ParamName"/>
/// is the hyperparameter and whose message names the loss, the hyperparameter and the allowed values.
/// </summary>
public static class Hyperparameters
{
    /// <summary>Throws unless <paramref name="value"/> is a finite number (not NaN, not ±infinity).</summary>
    /// <param name="loss">The loss (the generated module's name).</param>
    /// <param name="name">The hyperparameter.</param>
    /// <param name="value">Its value.</param>
    public static void RequireFinite(string loss, string name, double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value))
            throw new ArgumentOutOfRangeException(name, value, $"{loss}: {name} must be a finite number; got {name} = {Show(value)}.");
    }

    /// <summary>
    /// The exception for a hyperparameter rule that does not hold. The first of <paramref name="values"/>
    /// is the parameter reported; the message lists them all.
    /// </summary>
    /// <param name="loss">The loss (the generated module's name).</param>
    /// <param name="rule">The rule as the spec states it, e.g. <c>gamma must be >= 0</c>.</param>
    /// <param name="values">The hyperparameters the rule reads and their values.</param>
    /// <returns>The exception to throw.</returns>
    public static ArgumentOutOfRangeException OutOfRange(string loss, string rule, params (string Name, object? Value)[] values)
    {
        values ??= Array.Empty<(string, object?)>();
        var got = values.Length == 0 ? "" : "; got " + string.Join(", ", values.Select(v => $"{v.Name} = {Show(v.Value)}"));
        return values.Length > 0
            ? new ArgumentOutOfRangeException(values[0].Name, values[0].Value, $"{loss}: {rule}{got}.")
            : new ArgumentOutOfRangeException(null, $"{loss}: {rule}.");
    }

    /// <summary>A value as the messages print it (invariant culture, round-trippable numbers).</summary>
    /// <param name="value">The value.</param>
    /// <returns>Its text.</returns>
    public static string Show(object? value) =>
        value switch
        {
            null => "null",
            bool b => b ? "true" : "false",
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            float f => f.ToString("R", CultureInfo.InvariantCulture),
            IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };

    // The first identifier of a condition's text: the hyperparameter a failed Require reports.
    internal static string? FirstIdentifier(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return null;
        for (var i = 0; i < text!.Length; i++)
        {
            if (!(char.IsLetter(text[i]) || text[i] == '_' || text[i] == '@'))
                continue;
            var start = text[i] == '@' ? i + 1 : i;
            var end = start;
            while (end < text.Length && (char.IsLetterOrDigit(text[end]) || text[end] == '_'))
                end++;
            if (end > start)
                return text.Substring(start, end - start);
            i = end;
        }
        return null;
    }
}
