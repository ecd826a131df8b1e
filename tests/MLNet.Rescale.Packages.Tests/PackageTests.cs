using System.Diagnostics;
using System.Text.RegularExpressions;
using MLNet.Rescale.Tests.Shared;
using Xunit;
using Xunit.Abstractions;

namespace MLNet.Rescale.Packages.Tests;

/// <summary>
/// What a user with only NuGet gets: the repository packed into a feed, an application in a temporary folder outside
/// the checkout that references MLNet.Rescale.ML, .Hosting and .Models from that feed (plus libtorch-cpu-linux-x64, as
/// every TorchSharp application does), built and run; and the <c>rescale</c> tool installed from the feed. Our package
/// ids are removed from the NuGet cache first, so nothing of an earlier pack or of the repository's build is used.
/// </summary>
public sealed class PackageTests(ITestOutputHelper output)
{
    [Fact]
    public void An_application_outside_the_repository_runs_the_contract_pipeline_and_the_DI_service_from_the_packages()
    {
        using var dir = NewApplication("app", ["MLNet.Rescale.ML", "MLNet.Rescale.Hosting", "MLNet.Rescale.Models"],
            [("libtorch-cpu-linux-x64", "2.10.0"), ("Microsoft.Extensions.Logging", "11.0.0")]);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "App", "Program.cs.txt"), Path.Combine(dir.Path, "Program.cs"));
        string images = Directory.CreateDirectory(Path.Combine(dir.Path, "images")).FullName;
        foreach (var name in new[] { "bird.png", "butterfly.png" }) File.Copy(TestPaths.Image(name), Path.Combine(images, name));
        string work = Directory.CreateDirectory(Path.Combine(dir.Path, "work")).FullName;

        Run("dotnet", ["build", "-c", "Release", "-o", "out"], dir.Path, TimeSpan.FromMinutes(8));
        // Only packages: every library the application restored is a package, none a project of the repository.
        var assets = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "obj", "project.assets.json")))!;
        var libraries = assets["libraries"]!.AsObject();
        Assert.All(libraries, l => Assert.Equal("package", (string?)l.Value!["type"]));
        Assert.Contains(libraries, l => l.Key == $"MLNet.Rescale.ML/{Feed.Version}");
        Assert.True(File.Exists(Path.Combine(dir.Path, "out", "models", "irn-x2.safetensors")), "the models package put its files beside the application");
        string app = Path.Combine(dir.Path, "out", "App.dll");
        Assert.Matches(@"saved: Y-PSNR \d\d\.\d\d dB", Run("dotnet", [app, "save", images, work], dir.Path, TimeSpan.FromMinutes(5)));
        Assert.Contains("loaded in a new process: identical pixels", Run("dotnet", [app, "load", images, work], dir.Path, TimeSpan.FromMinutes(5)));
        Assert.Contains("DI round trip: IRN ×2 → Png 288×288", Run("dotnet", [app, "di", images, work], dir.Path, TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void An_application_that_forgot_libtorch_is_told_which_package_to_add()
    {
        using var dir = NewApplication("nolibtorch", ["MLNet.Rescale", "MLNet.Rescale.Models"], []);
        // The first thing it touches is a model file; a network constructor would be the same.
        File.WriteAllText(Path.Combine(dir.Path, "Program.cs"), """
            try { MLNet.Rescale.ModelFile.Load(MLNet.Rescale.PretrainedModels.IrnX2); }
            catch (Exception e) { Console.WriteLine($"{e.GetType().Name}: {e.Message}"); return 3; }
            return 0;
            """);
        Run("dotnet", ["build", "-c", "Release", "-o", "out"], dir.Path, TimeSpan.FromMinutes(8));
        var (code, text) = RunRaw("dotnet", [Path.Combine(dir.Path, "out", "App.dll")], dir.Path, TimeSpan.FromMinutes(2));
        Assert.Equal(3, code);
        string line = Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("InvalidOperationException: TorchSharp could not load libtorch: add the libtorch package for this platform", line);
        Assert.Contains("dotnet add package libtorch-cpu-linux-x64 --version 2.10.0", line);
    }

    [Fact]
    public void The_tool_installs_from_the_feed_and_round_trips_with_its_bundled_default_model()
    {
        string feed = Feed.Ensure(output);
        using var dir = new TempFolder("tool");
        Feed.ForgetCachedPackages();
        string tools = Path.Combine(dir.Path, "tools");
        Run("dotnet", ["tool", "install", "MLNet.Rescale.Cli", "--version", Feed.Version, "--add-source", feed, "--tool-path", tools], dir.Path, TimeSpan.FromMinutes(10));
        string outDir = Path.Combine(dir.Path, "out");
        string text = Run(Path.Combine(tools, "rescale"), ["roundtrip", TestPaths.Image("butterfly.png"), "-o", outDir], dir.Path, TimeSpan.FromMinutes(5));
        Assert.Contains("IRN", text);
        Assert.Matches(@"\d\d\.\d\d", text);
        Assert.True(Directory.GetFiles(outDir, "*.png").Length >= 2, "the round trip wrote its images");
        // A bundled model by name.
        string sain = Run(Path.Combine(tools, "rescale"), ["roundtrip", TestPaths.Image("bird.png"), "-o", Path.Combine(dir.Path, "sain"), "--model", "sain-x2-jpeg"], dir.Path, TimeSpan.FromMinutes(5));
        Assert.Contains("SAIN", sain);
    }

    [Fact]
    public void A_viewer_upscales_with_the_Onnx_package_and_carries_no_libtorch()
    {
        using var dir = NewApplication("viewer", ["MLNet.Rescale.Onnx"], []);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "App", "OnnxViewer.cs.txt"), Path.Combine(dir.Path, "Program.cs"));
        // The graph, exported by the repository's build of the tool (what `rescale export irn-x2 --onnx DIR` writes).
        string tool = Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "src", "MLNet.Rescale.Cli", "bin", "Release"), "rescale.dll", SearchOption.AllDirectories)
            .OrderByDescending(File.GetLastWriteTimeUtc).First();
        Run("dotnet", [tool, "export", "irn-x2", "--onnx", Path.Combine(dir.Path, "onnx")], dir.Path, TimeSpan.FromMinutes(2));

        Run("dotnet", ["publish", "-c", "Release", "-r", "linux-x64", "--self-contained", "false", "-o", "out"], dir.Path, TimeSpan.FromMinutes(8));
        var files = Directory.GetFiles(Path.Combine(dir.Path, "out"), "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.Contains("libonnxruntime.so", files);
        Assert.DoesNotContain(files, f => f!.Contains("torch", StringComparison.OrdinalIgnoreCase));
        long bytes = Directory.GetFiles(Path.Combine(dir.Path, "out"), "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        output.WriteLine($"published viewer: {bytes / 1048576.0:F1} MiB in {files.Count} files");

        string upscaled = Path.Combine(dir.Path, "hr.png");
        string text = Run("dotnet", [Path.Combine(dir.Path, "out", "App.dll"), Path.Combine(dir.Path, "onnx", "upscale.onnx"), TestPaths.Image("butterfly_LRx2_matlab.png"), upscaled],
            dir.Path, TimeSpan.FromMinutes(2));
        Assert.Contains("upscaled x2: 128x128 -> 256x256", text);
        Assert.True(new FileInfo(upscaled).Length > 0);
    }

    /// <summary>A folder outside the checkout with a nuget.config naming the feed and an application referencing <paramref name="ours"/> (at the feed's version) and <paramref name="others"/>.</summary>
    private TempFolder NewApplication(string what, string[] ours, (string Id, string Version)[] others)
    {
        string feed = Feed.Ensure(output);
        var dir = new TempFolder(what);
        Feed.ForgetCachedPackages();
        File.WriteAllText(Path.Combine(dir.Path, "nuget.config"), Feed.NuGetConfig(feed));
        var references = ours.Select(id => (id, Feed.Version)).Concat(others)
            .Select(r => $"    <PackageReference Include=\"{r.Item1}\" Version=\"{r.Item2}\" />");
        File.WriteAllText(Path.Combine(dir.Path, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable></PropertyGroup>
              <ItemGroup>
            {string.Join("\n", references)}
              </ItemGroup>
            </Project>
            """);
        return dir;
    }

    private string Run(string file, string[] args, string workingDirectory, TimeSpan timeout)
    {
        var (code, text) = RunRaw(file, args, workingDirectory, timeout);
        Assert.True(code == 0, $"{Path.GetFileName(file)} {string.Join(' ', args)} exited {code}:\n{Tail(text)}");
        return text;
    }

    private (int Code, string Text) RunRaw(string file, string[] args, string workingDirectory, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        // The test host's own MSBuild settings must not leak into the user's build.
        foreach (var key in new[] { "MSBuildSDKsPath", "MSBuildExtensionsPath", "MSBUILD_EXE_PATH", "DOTNET_HOST_PATH" }) psi.Environment.Remove(key);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout}");
        }
        string text = stdout.Result + stderr.Result;
        output.WriteLine($"$ {file} {string.Join(' ', args)}\n{text}");
        return (process.ExitCode, text);
    }

    private static string Tail(string text) => text.Length > 4000 ? text[^4000..] : text;
}

/// <summary>The packed feed: <c>artifacts/feed</c>, which the test script fills with <c>dotnet pack</c>; packed here when it lacks this version or is older than the build.</summary>
internal static class Feed
{
    private static readonly Lock Gate = new();

    public static string Version { get; } = Regex.Match(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "Directory.Build.props")), "<Version>([^<]+)</Version>").Groups[1].Value;

    public static string Ensure(ITestOutputHelper output)
    {
        string feed = Path.Combine(TestPaths.RepoRoot, "artifacts", "feed");
        lock (Gate)
        {
            string[] ids = ["MLNet.Rescale", "MLNet.Rescale.Imaging", "MLNet.Rescale.ML", "MLNet.Rescale.Hosting", "MLNet.Rescale.Models", "MLNet.Rescale.Reporting", "MLNet.Rescale.Onnx", "MLNet.Rescale.Cli"];
            // Packed after the last build of the libraries (scripts/test.sh packs after building), or packed again here.
            var built = Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "src"), "MLNet.Rescale*.dll", SearchOption.AllDirectories)
                .Where(f => f.Contains("/bin/Release/", StringComparison.Ordinal)).Select(File.GetLastWriteTimeUtc).DefaultIfEmpty().Max();
            if (ids.All(id => File.Exists(Path.Combine(feed, $"{id}.{Version}.nupkg")) && File.GetLastWriteTimeUtc(Path.Combine(feed, $"{id}.{Version}.nupkg")) >= built))
                return feed;
            var psi = new ProcessStartInfo("dotnet", ["pack", Path.Combine(TestPaths.RepoRoot, "MLNet.Rescale.sln"), "-c", "Release", "-o", feed])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            string text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            output.WriteLine(text);
            Assert.True(p.ExitCode == 0, "dotnet pack failed:\n" + text);
            return feed;
        }
    }

    /// <summary>Removes our package ids from the NuGet cache, so a restore takes them from the feed just packed.</summary>
    public static void ForgetCachedPackages()
    {
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        if (!Directory.Exists(cache)) return;
        foreach (var d in Directory.GetDirectories(cache, "mlnet.rescale*")) Directory.Delete(d, recursive: true);
    }

    /// <summary>A nuget.config that adds the feed to the user's sources (libtorch, ML.NET and the rest come from there).</summary>
    public static string NuGetConfig(string feed) => $"""
        <?xml version="1.0" encoding="utf-8"?>
        <configuration>
          <packageSources>
            <add key="mlnet-rescale-feed" value="{feed}" />
          </packageSources>
        </configuration>
        """;
}

/// <summary>A folder under the system's temporary folder, outside the checkout; deleted afterwards.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder(string what) => Path = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"mlnet-rescale-{what}-{Guid.NewGuid():N}")).FullName;

    public string Path { get; }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
