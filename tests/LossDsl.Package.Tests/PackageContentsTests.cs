using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Xml.Linq;
using Xunit;

namespace LossDsl.Package.Tests;

[CollectionDefinition(Name)]
public sealed class PackedCollection : ICollectionFixture<PackedFeed>
{
    public const string Name = "packed";
}

/// <summary>What the packed .nupkg/.snupkg files hold: assets at the paths NuGet reads, and metadata.</summary>
[Collection(PackedCollection.Name)]
public class PackageContentsTests(PackedFeed feed)
{
    private static string[] Entries(string package)
    {
        Assert.True(File.Exists(package), $"missing {package}");
        using var zip = ZipFile.OpenRead(package);
        return zip.Entries.Select(e => e.FullName).ToArray();
    }

    private static XElement Nuspec(string package)
    {
        using var zip = ZipFile.OpenRead(package);
        var entry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", System.StringComparison.Ordinal));
        using var stream = entry.Open();
        return XDocument.Load(stream).Root!;
    }

    private static XElement Meta(XElement nuspec, string name) =>
        nuspec.Descendants().Single(e => e.Name.LocalName == "metadata").Elements().Single(e => e.Name.LocalName == name);

    [Fact]
    public void RuntimePackageCarriesTheGeneratorAsAnAnalyzerAndDependsOnCoreAndTorchSharp()
    {
        var package = feed.PackagePath("LossDsl.Runtime");
        var entries = Entries(package);
        Assert.Contains("analyzers/dotnet/cs/LossDsl.Generator.dll", entries);
        Assert.Contains("lib/net10.0/LossDsl.Runtime.dll", entries);
        Assert.Contains("lib/net10.0/LossDsl.Runtime.xml", entries);
        Assert.Contains("README.md", entries);
        // The generator is an analyzer only: never a compile-time reference of the user's project.
        Assert.DoesNotContain(
            entries,
            e =>
                e.StartsWith("lib/", System.StringComparison.Ordinal)
                && e.EndsWith("LossDsl.Generator.dll", System.StringComparison.Ordinal)
        );

        var nuspec = Nuspec(package);
        var dependencies = nuspec
            .Descendants()
            .Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => (string)e.Attribute("id")!, e => (string)e.Attribute("version")!);
        Assert.Equal(feed.Version, dependencies["LossDsl"]);
        // Backend-neutral: managed TorchSharp and what the runtime itself uses, nothing else. The application
        // chooses TorchSharp-cpu or a CUDA package; two native libtorch builds in one app would conflict.
        Assert.Equal(
            new[] { "LossDsl", "System.Numerics.Tensors", "TorchSharp" },
            dependencies.Keys.OrderBy(k => k, System.StringComparer.Ordinal)
        );
    }

    [Fact]
    public void TheTestingKitDependsOnTheRuntimeAndFsCheckOnly()
    {
        if (!feed.Packed.Contains("LossDsl.Testing"))
            return; // optional project (see below)
        var nuspec = Nuspec(feed.PackagePath("LossDsl.Testing"));
        var ids = nuspec
            .Descendants()
            .Where(e => e.Name.LocalName == "dependency")
            .Select(e => (string)e.Attribute("id")!)
            .OrderBy(k => k, System.StringComparer.Ordinal);
        Assert.Equal(new[] { "FsCheck", "LossDsl.Runtime" }, ids);
    }

    [Theory]
    [InlineData("LossDsl", "netstandard2.0")]
    [InlineData("LossDsl.Runtime", "net10.0")]
    [InlineData("LossDsl.Testing", "net10.0")]
    public void EveryPackageHasDocsReadmeLicenseRepositoryAndSymbols(string id, string framework)
    {
        if (!feed.Packed.Contains(id))
        {
            // Only LossDsl.Testing may be absent (its project is optional); the two core packages never are.
            Assert.Equal("LossDsl.Testing", id);
            return;
        }
        var entries = Entries(feed.PackagePath(id));
        Assert.Contains($"lib/{framework}/{id}.dll", entries);
        Assert.Contains($"lib/{framework}/{id}.xml", entries);
        Assert.Contains("README.md", entries);

        var nuspec = Nuspec(feed.PackagePath(id));
        Assert.Equal(feed.Version, Meta(nuspec, "version").Value);
        var license = Meta(nuspec, "license");
        Assert.Equal("expression", (string?)license.Attribute("type"));
        Assert.Equal("MIT", license.Value);
        Assert.Equal("README.md", Meta(nuspec, "readme").Value);
        Assert.False(string.IsNullOrWhiteSpace(Meta(nuspec, "description").Value));
        var repository = Meta(nuspec, "repository");
        Assert.StartsWith("https://github.com/", (string?)repository.Attribute("url"));

        var symbols = Entries(feed.PackagePath(id, "snupkg"));
        Assert.Contains($"lib/{framework}/{id}.pdb", symbols);
    }
}
