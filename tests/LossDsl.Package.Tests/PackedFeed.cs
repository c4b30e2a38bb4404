using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace LossDsl.Package.Tests;

/// <summary>
/// Packs the libraries once per test class into a local folder feed under a fresh temporary folder.
/// Every pack gets a unique prerelease version (0.1.0-it…), so neither the machine's package cache nor
/// an earlier run can supply a stale LossDsl package, and builds into its own artifacts folder, so the
/// repository's bin/ and obj/ are not touched. Deleted afterwards unless LOSSDSL_KEEP_PACKAGE_TEST=1.
/// </summary>
public sealed class PackedFeed : IDisposable
{
    /// <summary>The libraries to pack, relative to the repository root; those whose project is absent are skipped.</summary>
    public static readonly string[] Libraries = { "src/LossDsl", "src/LossDsl.Runtime", "src/LossDsl.Testing" };

    public PackedFeed()
    {
        Root = Path.Combine(Path.GetTempPath(), "lossdsl-package-" + Guid.NewGuid().ToString("N")[..12]);
        Feed = Path.Combine(Root, "feed");
        Directory.CreateDirectory(Feed);
        // SemVer 2: a prerelease label of letters and digits; time first so versions sort by age.
        Suffix = "it" + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..6];
        Version = "0.1.0-" + Suffix;

        var log = new List<string>();
        foreach (var lib in Libraries)
        {
            var project = Path.Combine(Tools.RepoRoot, lib);
            if (!Directory.Exists(project) || Directory.GetFiles(project, "*.csproj").Length == 0)
                continue;
            var result = Tools.Dotnet(
                Tools.RepoRoot,
                TimeSpan.FromMinutes(4),
                "pack",
                project,
                "-c",
                "Release",
                "-o",
                Feed,
                "--version-suffix",
                Suffix,
                "-p:UseArtifactsOutput=true",
                $"-p:ArtifactsPath={Path.Combine(Root, "artifacts")}",
                "-p:ContinuousIntegrationBuild=true",
                "--disable-build-servers",
                "-nodeReuse:false"
            );
            log.Add($"pack {lib}: {result.Elapsed.TotalSeconds:F0} s");
            if (result.ExitCode != 0)
                throw new InvalidOperationException(result.Describe($"dotnet pack {lib}"));
            Packed.Add(Path.GetFileName(lib));
        }
        PackLog = string.Join("; ", log);
    }

    /// <summary>The temporary folder holding the feed, the artifacts and any consumer project.</summary>
    public string Root { get; }

    /// <summary>The local folder feed with the .nupkg and .snupkg files.</summary>
    public string Feed { get; }

    /// <summary>The prerelease label of this run's packages.</summary>
    public string Suffix { get; }

    /// <summary>This run's package version.</summary>
    public string Version { get; }

    /// <summary>The package ids packed (project folder names).</summary>
    public List<string> Packed { get; } = new();

    /// <summary>How long each pack took.</summary>
    public string PackLog { get; }

    /// <summary>The path of the package <paramref name="id"/> (.nupkg or .snupkg) of this run.</summary>
    public string PackagePath(string id, string extension = "nupkg") => Path.Combine(Feed, $"{id}.{Version}.{extension}");

    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("LOSSDSL_KEEP_PACKAGE_TEST") == "1")
            return;
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        { /* a leftover temp folder is harmless */
        }
        catch (UnauthorizedAccessException) { }
    }
}
