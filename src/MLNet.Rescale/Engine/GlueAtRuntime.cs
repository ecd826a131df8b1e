using System.Runtime.InteropServices;
using TorchSharp;

namespace MLNet.Rescale.Engine;

/// <summary>
/// Where no build step ran — a notebook's <c>#r "nuget: MLNet.Rescale.ML"</c>, a script — TorchSharp loads its glue
/// from the NuGet cache as published, which Debian 12 and Ubuntu 22.04 refuse (it asks for GCC 13's libstdc++; see
/// eng/TorchSharpGlue.cs). Before TorchSharp starts, this makes the same patched copy the build step makes, in the
/// user's cache folder (never touching the NuGet cache), and loads it with the libtorch package's libraries: TorchSharp
/// then finds its glue already loaded by name. Nothing happens in a built application (its glue sits beside it, already
/// handled), off Linux, or where the system's libstdc++ is new enough.
/// </summary>
internal static class GlueAtRuntime
{
    public static void PrepareIfNeeded()
    {
        if (!OperatingSystem.IsLinux() || File.Exists(Path.Combine(AppContext.BaseDirectory, "TorchSharp.dll"))) return;
        string? torchSharpDir = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        if (string.IsNullOrEmpty(torchSharpDir)) return;
        // The package layout: PACKAGES/torchsharp/VERSION/lib/TFM/TorchSharp.dll and …/runtimes/linux-x64/native/.
        string glue = Path.GetFullPath(Path.Combine(torchSharpDir, "..", "..", "runtimes", "linux-x64", "native", "libLibTorchSharp.so"));
        if (!File.Exists(glue) || TorchSharpGluePatch.SystemLibStdCxx() is not { } libstdcxx) return;
        try
        {
            var defined = TorchSharpGluePatch.DefinedVersions(libstdcxx);
            if (!TorchSharpGluePatch.NeedsPatch(glue, defined)) return;
            string? libtorch = FindLibTorch(Path.GetFullPath(Path.Combine(torchSharpDir, "..", "..", "..", "..")));
            if (libtorch is null) return; // TorchSharp's own error then says that libtorch is missing
            var info = new FileInfo(glue);
            string dir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "mlnet-rescale", "torchsharp-glue",
                FormattableString.Invariant($"{info.Length}-{info.LastWriteTimeUtc.Ticks}"));
            string patched = Path.Combine(dir, "libLibTorchSharp.so");
            if (!File.Exists(patched))
            {
                Directory.CreateDirectory(dir);
                string temp = Path.Combine(dir, $".libLibTorchSharp.so.{Environment.ProcessId}.tmp");
                File.Copy(glue, temp, overwrite: true);
                TorchSharpGluePatch.Patch(temp, libstdcxx, defined);
                File.Move(temp, patched, overwrite: true); // a rename: a process stopped half-way leaves no torn library
            }
            // libtorch first (its own RUNPATH finds libtorch_cpu and libc10), then the glue, whose needs are then met by name.
            NativeLibrary.Load(Path.Combine(libtorch, "libtorch.so"));
            NativeLibrary.Load(patched);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or DllNotFoundException or BadImageFormatException)
        {
            // Left to TorchSharp, whose failure TorchRuntime turns into one error line.
        }
    }

    // libtorch-cpu-linux-x64's natives in the same package folder as TorchSharp, the version TorchSharp was built for first.
    private static string? FindLibTorch(string packages)
    {
        string root = Path.Combine(packages, "libtorch-cpu-linux-x64");
        if (!Directory.Exists(root)) return null;
        var versions = Directory.GetDirectories(root).OrderByDescending(d => Path.GetFileName(d) == "2.10.0").ThenByDescending(d => d, StringComparer.Ordinal);
        return versions.Select(v => Path.Combine(v, "runtimes", "linux-x64", "native"))
            .FirstOrDefault(d => File.Exists(Path.Combine(d, "libtorch.so")));
    }
}
