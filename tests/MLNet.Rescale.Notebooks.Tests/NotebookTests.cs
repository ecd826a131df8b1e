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
        foreach (var expected in new[] { "01-quickstart.ipynb", "03-compression.ipynb", "04-collaborative.ipynb" })
            Assert.Contains(expected, names);
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Every_cell_runs_and_the_images_it_shows_are_valid(string notebook)
    {
        Environment.SetEnvironmentVariable(BudgetVariable, "small");
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
            "03-compression.ipynb" => ["HR", "IRN", "bicubic"],
            "04-collaborative.ipynb" => ["HR", "IRN round trip", "IRN + HCD round trip", "LR perturbation"],
            _ => [],
        };
        foreach (var caption in captions) Assert.Contains($"<figcaption style=\"font:12px sans-serif\">{caption}", all);
        if (notebook == "03-compression.ipynb") Assert.Contains("<polyline", all);
        var psnr = Regex.Matches(all, @"<td>(\d+\.\d\d) dB").Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(psnr.Count >= 2, $"{notebook} shows no Y-PSNR");
        Assert.All(psnr, p => Assert.InRange(p, 15, 70));
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
    public void A_reference_that_is_not_built_is_a_clear_error()
    {
        using var dir = new TempNotebook("""
            {"cells":[{"cell_type":"code","metadata":{},"source":["#r \"../nowhere/Missing.dll\"\n","var y = 1;"]}],"metadata":{},"nbformat":4,"nbformat_minor":5}
            """);
        var e = Assert.Throws<NotebookException>(() => NotebookRunner.Run(dir.Path));
        Assert.Contains("Missing.dll", e.Message);
        Assert.Contains("does not exist; build the solution first", e.Message);
    }

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
