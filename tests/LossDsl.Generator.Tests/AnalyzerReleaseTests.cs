using System.IO;
using System.Linq;
using Xunit;

namespace LossDsl.Generator.Tests;

/// <summary>
/// Analyzer release tracking: AnalyzerReleases.Unshipped.md lists every diagnostic of the catalog with its
/// category, severity and title. Roslyn's own tracking analyzer (RS2008) cannot read the ids, because the
/// generator builds its descriptors from DiagnosticCatalog (one list, not a second copy of the facts), so
/// this test is the check instead.
/// </summary>
public class AnalyzerReleaseTests
{
    [Fact]
    public void TheUnshippedReleaseListsEveryCatalogDiagnostic()
    {
        var path = Path.Combine(Harness.RepositoryRoot(), "src", "LossDsl.Generator", "ReleaseTracking", "AnalyzerReleases.Unshipped.md");
        var rows = File.ReadAllLines(path)
            .Where(l => l.StartsWith("LD", System.StringComparison.Ordinal))
            .Select(l => l.Split('|').Select(c => c.Trim()).ToArray())
            .ToList();
        var expected = DiagnosticCatalog.All.Select(d => (d.Id, "LossDsl", d.Severity.ToString(), d.Title)).OrderBy(r => r.Id).ToList();
        var actual = rows.Select(r => (r[0], r[1], r[2], r[3])).OrderBy(r => r.Item1).ToList();
        Assert.Equal(expected, actual);
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(path)!, "AnalyzerReleases.Shipped.md")));
    }
}
