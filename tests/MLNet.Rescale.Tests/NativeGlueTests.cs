using System.IO.Compression;
using MLNet.Rescale.Engine;
using Xunit;

namespace MLNet.Rescale.Tests;

/// <summary>
/// The build step of eng/TorchSharpGlue.targets: TorchSharp's native glue in this output folder is patched only where
/// this machine's libstdc++ lacks GLIBCXX_3.4.32, by exactly the two bytes the step changes, and the NuGet package
/// itself is never touched. (That the patched glue loads is shown by every test that uses a network.)
/// </summary>
public class NativeGlueTests
{
    private const string GlueEntry = "runtimes/linux-x64/native/libLibTorchSharp.so";

    [Fact]
    public void OutputCopyIsPatchedOnlyWhereNeededAndThePackageIsUntouched()
    {
        if (!OperatingSystem.IsLinux()) return;
        TorchRuntime.EnsureStarted(); // the glue loaded
        string output = Path.Combine(AppContext.BaseDirectory, GlueEntry);
        Assert.True(File.Exists(output), $"no glue at {output}");
        string packageDir = Path.Combine(
            Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
            "torchsharp", typeof(TorchSharp.torch).Assembly.GetName().Version!.ToString(3));
        string cached = Path.Combine(packageDir, GlueEntry);
        Assert.True(File.Exists(cached), $"no TorchSharp package at {packageDir}");

        // The extracted package file is still the one inside the signed .nupkg.
        byte[] original;
        using (var nupkg = ZipFile.OpenRead(Directory.GetFiles(packageDir, "*.nupkg").Single()))
        using (var s = nupkg.GetEntry(GlueEntry)!.Open())
        using (var m = new MemoryStream())
        {
            s.CopyTo(m);
            original = m.ToArray();
        }
        Assert.Equal(original, File.ReadAllBytes(cached));

        byte[] copy = File.ReadAllBytes(output);
        Assert.Equal(original.Length, copy.Length);
        int differing = Enumerable.Range(0, copy.Length).Count(i => copy[i] != original[i]);
        bool systemHasIt = LibStdCxxPaths().Any(p => Contains(File.ReadAllBytes(p), "GLIBCXX_3.4.32"u8));
        // Where the system has the version the copy is the package's; otherwise the requirement's flags (one byte)
        // and the one symbol's version index (one byte) changed.
        Assert.Equal(systemHasIt ? 0 : 2, differing);
    }

    private static IEnumerable<string> LibStdCxxPaths() =>
        File.ReadLines("/proc/self/maps").Where(l => l.Contains("libstdc++.so.6", StringComparison.Ordinal))
            .Select(l => l[l.IndexOf('/')..].Trim()).Distinct();

    private static bool Contains(byte[] haystack, ReadOnlySpan<byte> needle) => haystack.AsSpan().IndexOf(needle) >= 0;
}
