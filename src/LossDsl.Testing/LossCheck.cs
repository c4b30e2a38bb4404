using System;
using System.Globalization;
using FsCheck;

namespace LossDsl.Testing;

/// <summary>
/// Runs loss properties with FsCheck. <see cref="CaseCount"/> cases per property: 100 by default, 20 when
/// the environment variable <c>QUICK</c> is <c>1</c> (fast local runs), or exactly <c>LOSSDSL_CASES</c>
/// when that is set to a positive integer.
/// </summary>
public static class LossCheck
{
    /// <summary>The number of cases each property is checked on.</summary>
    public static int CaseCount
    {
        get
        {
            var explicitCount = Environment.GetEnvironmentVariable("LOSSDSL_CASES");
            if (int.TryParse(explicitCount, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0)
                return n;
            var quick = Environment.GetEnvironmentVariable("QUICK");
            return quick is "1" or "true" or "True" ? 20 : 100;
        }
    }

    /// <summary>FsCheck's configuration for loss properties: <see cref="CaseCount"/> cases, throwing on failure.</summary>
    public static Config Config => Config.QuickThrowOnFailure.WithMaxTest(CaseCount).WithQuietOnSuccess(true);

    /// <summary>
    /// Checks the property on <see cref="CaseCount"/> cases; on failure throws with the shrunk counterexample
    /// (a <see cref="LossCase"/> printed with its shapes and values) and the law's explanation.
    /// </summary>
    /// <param name="property">A property, e.g. one of <see cref="LossLaws"/>.</param>
    /// <param name="name">A name for the report.</param>
    public static void Verify(this Property property, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(property);
        Check.One(name ?? "loss property", Config, property);
    }
}
