using System.Buffers.Binary;
using System.Text.RegularExpressions;

// Notebooks change the working directory and share libtorch's process-wide state: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace MLNet.Rescale.Notebooks.Tests;

/// <summary>
/// Executes every notebook in notebooks/ cell by cell (see <see cref="NotebookRunner"/>) with the small budget
/// (<c>MLNET_RESCALE_NOTEBOOK_BUDGET=small</c>, which the notebooks read), and checks what they display.
/// </summary>
public sealed partial class NotebookTests
{
    /// <summary>The variable the notebooks read to shrink their work (smaller crops, fewer qualities and iterations).</summary>
    public const string BudgetVariable = "MLNET_RESCALE_NOTEBOOK_BUDGET";

    private static string NotebookDir => Path.Combine(TestPaths.RepoRoot, "notebooks");

    public static TheoryData<string> Notebooks()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.GetFiles(NotebookDir, "*.ipynb").Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(path));
        return data;
    }

    [Fact]
    public void The_notebooks_of_the_guide_are_present()
    {
        var names = Directory.GetFiles(NotebookDir, "*.ipynb").Select(Path.GetFileName).ToList();
        foreach (var expected in new[] { "01-quickstart.ipynb", "02-train.ipynb", "03-compression.ipynb", "04-collaborative.ipynb" })
            Assert.Contains(expected, names);
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Every_cell_has_the_unique_id_nbformat_4_5_requires(string notebook)
    {
        // nbformat 4.5 made cell ids mandatory (1–64 letters, digits, '-' or '_', unique in the notebook);
        // Jupyter and VS Code otherwise rewrite the file with fresh random ids on the first save.
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(NotebookDir, notebook)));
        var root = doc.RootElement;
        Assert.Equal(4, root.GetProperty("nbformat").GetInt32());
        Assert.True(root.GetProperty("nbformat_minor").GetInt32() >= 5);
        var ids = root.GetProperty("cells").EnumerateArray()
            .Select(c => c.TryGetProperty("id", out var id) ? id.GetString() : null).ToList();
        Assert.All(ids, id => Assert.Matches("^[A-Za-z0-9_-]{1,64}$", id ?? ""));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Every_cell_runs_and_the_images_it_shows_are_valid(string notebook)
    {
        Environment.SetEnvironmentVariable(BudgetVariable, "small");
        LocalFeed.Use();
        var globals = NotebookRunner.Run(Path.Combine(NotebookDir, notebook));
        var html = globals.Displayed.OfType<HtmlContent>().Select(h => h.Html).ToList();
        Assert.NotEmpty(html);
        var uris = html.SelectMany(h => DataUri().Matches(h)).ToList();
        Assert.True(uris.Count >= 3, $"{notebook} showed {uris.Count} images; every notebook shows its results as images");
        foreach (var m in uris)
        {
            // A PNG: signature, then the IHDR chunk with a positive width and height.
            var png = Convert.FromBase64String(m.Groups[1].Value);
            Assert.True(png.Length > 33 && png.AsSpan(0, 8).SequenceEqual(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }), $"{notebook}: a data URI is not a PNG");
            Assert.True(BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)) > 0 && BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)) > 0, $"{notebook}: an empty PNG");
        }
        string all = string.Concat(html);
        // What each notebook is about must be on screen: its figures' captions, and its plot or scores.
        string[] captions = notebook switch
        {
            "01-quickstart.ipynb" => ["HR", "IRN round trip", "bicubic down/up"],
            "02-train.ipynb" => ["HR", "IRN round trip", "bicubic down/up", "IRN LR (trained above)"],
            "03-compression.ipynb" => ["HR", "IRN", "bicubic"],
            "04-collaborative.ipynb" => ["HR", "IRN round trip", "IRN + HCD round trip", "LR perturbation"],
            _ => [],
        };
        foreach (var caption in captions) Assert.Contains($"<figcaption style=\"font:12px sans-serif\">{caption}", all);
        if (notebook == "03-compression.ipynb")
        {
            // The sweep chart: a line per method (the networks and bicubic), drawn by ScottPlot.
            var chart = html.First(h => h.Contains("<svg", StringComparison.Ordinal));
            Assert.True(SvgChart.SeriesColors(chart).Count >= 2, "03's sweep chart shows fewer than two lines");
            Assert.Contains("bicubic", SvgChart.Texts(chart));
        }
        if (notebook == "02-train.ipynb") ThePlotFollowedTheTraining(globals);
        if (notebook == "01-quickstart.ipynb")
        {
            // The ML.NET pipeline scores exactly what the library's round trip scored.
            var same = Regex.Match(all, @"As an ML.NET pipeline: (\d+\.\d\d) dB / (\d\.\d{4}) \(the round trip above: (\d+\.\d\d) dB / (\d\.\d{4})\)");
            Assert.True(same.Success, "01 shows no ML.NET pipeline score");
            Assert.Equal((same.Groups[3].Value, same.Groups[4].Value), (same.Groups[1].Value, same.Groups[2].Value));
        }
        var psnr = Regex.Matches(all, @"<td>(\d+\.\d\d) dB").Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(psnr.Count >= 2, $"{notebook} shows no Y-PSNR");
        // 02 trains from scratch: a dozen iterations on tiny crops give a finite score (its rise is checked above).
        Assert.All(psnr, p => Assert.InRange(p, notebook == "02-train.ipynb" ? 5 : 15, 70));
    }

    /// <summary>
    /// 02-train's plot is one output updated while the pipeline trains: after every iteration of the small budget, each
    /// redraw an SVG with one more point on the loss curve, and the validation curve appears once the run has validated.
    /// </summary>
    private static void ThePlotFollowedTheTraining(NotebookRun globals)
    {
        var plot = Assert.Single(globals.Outputs, o => o.History.Count > 1);
        var frames = plot.History.Select(v => Assert.IsType<HtmlContent>(v).Html).ToList();
        Assert.Equal(1 + 12, frames.Count); // drawn empty, then after each of the small budget's 12 iterations
        string Svg(string frame) => frame[frame.IndexOf("<svg", StringComparison.Ordinal)..(frame.IndexOf("</svg>", StringComparison.Ordinal) + 6)];
        Assert.Empty(SvgChart.SeriesColors(Svg(frames[0])));
        // The total loss (the first series, #1F77B4) gains a point per redraw (the first redraw's single point shows
        // as a marker beside its two-point legend sample).
        var points = frames.Skip(2).Select(f => SvgChart.LinePoints(Svg(f), "#1F77B4")).ToList();
        Assert.Equal(Enumerable.Range(2, points.Count), points);
        // The notebook validates every 4 iterations: the validation chart first shows in the redraw after iteration 4.
        Assert.Equal(4, frames.FindIndex(f => SvgChart.Texts(Svg(f)).Contains("Validation round trip")));
        Assert.Contains("iteration 12 of 12", frames[^1]);
        // Training works: the validation round trip improved from the first validation (iteration 4) to the last (12).
        var validations = frames.Select(f => ValidationStatus().Match(f)).Where(m => m.Success)
            .Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(9, validations.Count);
        Assert.True(validations[^1] > validations[0] + 0.5, $"validation Y-PSNR {validations[0]} → {validations[^1]} dB");
        // The model zip, loaded back, scores what the fitted chain scored.
        var reload = Regex.Match(string.Concat(globals.Displayed.OfType<HtmlContent>().Select(h => h.Html)), @"reloaded, it scores (\d+\.\d\d) dB \(fitted: (\d+\.\d\d) dB\)");
        Assert.True(reload.Success, "02-train shows no score of the reloaded model");
        Assert.Equal(reload.Groups[2].Value, reload.Groups[1].Value);
    }

    [Fact]
    public void Update_replaces_what_an_output_shows_and_keeps_every_frame()
    {
        using var dir = new TempNotebook("""
            {"cells":[
              {"cell_type":"code","metadata":{},"source":["var shown = display(HTML(\"<p>0</p>\"));"]},
              {"cell_type":"code","metadata":{},"source":["for (int i = 1; i <= 3; i++) shown.Update(HTML($\"<p>{i}</p>\"));\n","display(HTML(\"<p>other</p>\"));"]}
            ],"metadata":{},"nbformat":4,"nbformat_minor":5}
            """);
        var globals = NotebookRunner.Run(dir.Path);
        Assert.Equal(["<p>3</p>", "<p>other</p>"], globals.Displayed.Select(d => Assert.IsType<HtmlContent>(d).Html));
        Assert.Equal(["<p>0</p>", "<p>1</p>", "<p>2</p>", "<p>3</p>"], globals.Outputs[0].History.Select(d => ((HtmlContent)d!).Html));
        Assert.Single(globals.Outputs[1].History);
    }

    [Fact]
    public void A_failing_cell_fails_the_run_naming_the_notebook_and_cell()
    {
        using var dir = new TempNotebook("""
            {"cells":[
              {"cell_type":"markdown","metadata":{},"source":["# t"]},
              {"cell_type":"code","metadata":{},"source":["var x = 41;\n"]},
              {"cell_type":"code","metadata":{},"source":["x++;\n","display(HTML($\"<b>{x}</b>\"));\n"]},
              {"cell_type":"code","metadata":{},"source":["if (x == 42) throw new InvalidOperationException(\"boom\");"]}
            ],"metadata":{},"nbformat":4,"nbformat_minor":5}
            """);
        var e = Assert.Throws<NotebookException>(() => NotebookRunner.Run(dir.Path));
        Assert.Contains("cell 3", e.Message);
        Assert.Contains("boom", e.Message);
        Assert.IsType<InvalidOperationException>(e.InnerException);
    }

    [Fact]
    public void State_carries_from_cell_to_cell_and_display_is_recorded()
    {
        using var dir = new TempNotebook("""
            {"cells":[
              {"cell_type":"code","metadata":{},"source":["var parts = new List<string> { \"a\" };"]},
              {"cell_type":"code","metadata":{},"source":["parts.Add(\"b\");\n","display(HTML(string.Join(\",\", parts)));"]}
            ],"metadata":{},"nbformat":4,"nbformat_minor":5}
            """);
        var globals = NotebookRunner.Run(dir.Path);
        Assert.Equal("a,b", Assert.IsType<HtmlContent>(Assert.Single(globals.Displayed)).Html);
    }

    [Fact]
    public void Only_the_namespaces_the_kernel_imports_are_imported()
    {
        // The C# kernel has no System.IO by default: a notebook must say `using System.IO;`, here as there.
        using var dir = new TempNotebook("""
            {"cells":[{"cell_type":"code","metadata":{},"source":["var sb = new StringBuilder(); var n = new List<int>().Count(); var t = Path.GetTempPath();"]}],"metadata":{},"nbformat":4,"nbformat_minor":5}
            """);
        var e = Assert.Throws<NotebookException>(() => NotebookRunner.Run(dir.Path));
        // The one error is Path's: StringBuilder (System.Text), List (System.Collections.Generic) and Count() (System.Linq) compile.
        Assert.Contains("error CS0103: The name 'Path' does not exist", e.Message);
        Assert.Single(Regex.Matches(e.Message, "error CS"));
    }

    [Fact]
    public void A_reference_that_is_not_built_is_a_clear_error()
    {
        using var dir = new TempNotebook("""
            {"cells":[{"cell_type":"code","metadata":{},"source":["#r \"../nowhere/Missing.dll\"\n","var y = 1;"]}],"metadata":{},"nbformat":4,"nbformat_minor":5}
            """);
        var e = Assert.Throws<NotebookException>(() => NotebookRunner.Run(dir.Path));
        Assert.Contains("Missing.dll", e.Message);
        Assert.Contains("cell 0", e.Message);
    }

    [Fact]
    public void A_NuGet_reference_is_restored_by_the_kernel_and_a_missing_package_fails_the_cell()
    {
        using var ok = new TempNotebook("""
            {"cells":[{"cell_type":"code","metadata":{},"source":["#r \"nuget: Microsoft.ML, 6.0.0\"\n","var context = new Microsoft.ML.MLContext(seed: 0);\n","context.GetType().Name"]}],"metadata":{},"nbformat":4,"nbformat_minor":5}
            """);
        var run = NotebookRunner.Run(ok.Path);
        Assert.Contains("MLContext", run.Displayed.Select(d => d?.ToString()).Last());
        using var missing = new TempNotebook("""
            {"cells":[{"cell_type":"code","metadata":{},"source":["#r \"nuget: MLNet.Rescale.NoSuchPackage, 1.0.0\"\n","var y = 1;"]}],"metadata":{},"nbformat":4,"nbformat_minor":5}
            """);
        var e = Assert.Throws<NotebookException>(() => NotebookRunner.Run(missing.Path));
        Assert.Contains("cell 0", e.Message);
    }

    [Fact]
    public void The_executed_copy_holds_the_outputs()
    {
        using var dir = new TempNotebook("""
            {"cells":[{"cell_type":"code","metadata":{},"source":["display(HTML(\"<b>shown</b>\"));"]}],"metadata":{},"nbformat":4,"nbformat_minor":5}
            """);
        var run = NotebookRunner.Run(dir.Path);
        Assert.StartsWith(Path.Combine(AppContext.BaseDirectory, "executed-notebooks"), run.ExecutedCopy);
        Assert.Contains("<b>shown</b>", File.ReadAllText(run.ExecutedCopy));
    }

    /// <summary>The last validation score in 02-train's status line under the plot.</summary>
    [GeneratedRegex(@"validation (\d+\.\d\d) dB;")]
    private static partial Regex ValidationStatus();

    [GeneratedRegex("data:image/png;base64,([A-Za-z0-9+/=]+)")]
    private static partial Regex DataUri();

    /// <summary>A notebook file in a temporary folder.</summary>
    private sealed class TempNotebook : IDisposable
    {
        private readonly string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rescale-notebook-tests-" + Guid.NewGuid().ToString("N"));

        public TempNotebook(string json)
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path, json);
        }

        public string Path => System.IO.Path.Combine(dir, "test.ipynb");

        public void Dispose() => Directory.Delete(dir, recursive: true);
    }
}

/// <summary>
/// The notebooks reference our packages by name, as a user of the published packages writes them. Until they are
/// published, the kernel's restores find them in the feed <c>scripts/test.sh</c> packs (<c>artifacts/feed</c>): NuGet
/// takes extra sources from the MSBuild property <c>RestoreAdditionalProjectSources</c>, which an environment variable
/// of that name sets for the restores the kernel starts.
/// </summary>
internal static class LocalFeed
{
    public static void Use()
    {
        string feed = Path.Combine(TestPaths.RepoRoot, "artifacts", "feed");
        Assert.True(File.Exists(Path.Combine(feed, "MLNet.Rescale.ML." + Version + ".nupkg")),
            $"{feed} holds no MLNet.Rescale.ML {Version}: the notebooks use the packages; run scripts/test.sh, or dotnet pack -c Release -o artifacts/feed");
        Environment.SetEnvironmentVariable("RestoreAdditionalProjectSources", feed);
    }

    private static string Version { get; } = System.Text.RegularExpressions.Regex.Match(
        File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "Directory.Build.props")), "<Version>([^<]+)</Version>").Groups[1].Value;
}
