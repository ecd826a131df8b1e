using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Reporting;

namespace MLNet.Rescale.Cli.Tests;

/// <summary><c>rescale eval --report</c>: the page's content, and that it renders in a real browser.</summary>
public sealed class ReportCommandTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private static string Shipped => Path.Combine(TestPaths.RepoRoot, "models", "irn-x2.safetensors");

    private static string Small => TestPaths.Conformance("irn_x2_small.safetensors");

    private static string Fixtures => Path.Combine(TestPaths.Fixtures, "images");

    /// <summary>Two 96×96 crops of the fixtures: small enough for HCD in a test.</summary>
    private string Crops()
    {
        var data = Directory.CreateDirectory(dir.File("data")).FullName;
        ImageFile.Write(ImageFile.Read(TestPaths.Image("butterfly.png")).Crop(80, 80, 96, 96), Path.Combine(data, "butterfly.png"));
        ImageFile.Write(ImageFile.Read(TestPaths.Image("bird.png")).Crop(150, 100, 96, 96), Path.Combine(data, "bird.png"));
        return data;
    }

    private static string[] ImageNames(string folder) =>
        Directory.GetFiles(folder).Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal).ToArray()!;

    private static int Count(string text, string what) => Regex.Matches(text, Regex.Escape(what)).Count;

    /// <summary>The page must not load anything from outside: no URL but the SVG namespace.</summary>
    private static void AssertSelfContained(string html)
    {
        Assert.Contains($"content=\"{HtmlReport.ContentSecurityPolicy}\"", html);
        var urls = Regex.Matches(html, @"(https?:)?//[a-zA-Z0-9.-]+\.[a-z]{2,}[^""' )]*").Select(m => m.Value).Distinct().ToList();
        Assert.All(urls, u => Assert.Contains(u, new[] { "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink" }));   // an inline plot's namespaces, never fetched
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("<link", html);
    }

    [Fact]
    public void Report_with_a_sweep_holds_the_plot_the_scores_and_every_crop()
    {
        var report = dir.File("out/report.html");
        var r = Cli.Run("eval", "-m", Shipped, "-m", Small, "--data", Fixtures, "--compress", "jpeg", "--sweep", "40,90",
            "--plot", dir.File("sweep.svg"), "--report", report, "--json", "-t", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(report, JsonNode.Parse(r.Out)!["report"]!.GetValue<string>());
        var html = File.ReadAllText(report);
        AssertSelfContained(html);
        Assert.Contains("xmlns=\"http://www.w3.org/2000/svg\"", html);
        // The sweep's plot inline: one line per method (2 models + bicubic), as in the SVG file written beside it.
        Assert.Equal(1, Count(html, "<svg"));
        var chart = html[html.IndexOf("<svg", StringComparison.Ordinal)..(html.IndexOf("</svg>", StringComparison.Ordinal) + 6)];
        Assert.Equal(3, SvgChart.SeriesColors(chart).Count);
        Assert.Contains("bicubic", SvgChart.Texts(chart));
        var file = File.ReadAllText(dir.File("sweep.svg"));
        Assert.Equal(SvgChart.Texts(file), SvgChart.Texts(chart));   // the same chart as the file: titles, labels, legend
        Assert.Equal(SvgChart.SeriesColors(file), SvgChart.SeriesColors(chart));
        var names = ImageNames(Fixtures);
        // Per image: an overview and crops of HR, bicubic and both models, all PNG data URIs.
        Assert.Equal(names.Length * 5, Count(html, "<img src=\"data:image/png;base64,"));
        Assert.Equal(names.Length * 5, Count(html, "<img "));
        foreach (var name in names) Assert.Contains($"<td>{name}</td>", html);
        Assert.Contains("jpeg:40 (the lowest)", html);
        foreach (var label in new[] { "HR", "bicubic", "IRN (irn-x2)", "IRN (irn_x2_small)" })
            Assert.Equal(names.Length, Count(html, $"<figcaption style=\"font:12px sans-serif\">{label}<"));
        // Every crop decodes to a zoomed square of the crop size.
        foreach (Match m in Regex.Matches(html, "data:image/png;base64,([A-Za-z0-9+/=]+)\" width=\"(\\d+)\" height=\"(\\d+)\" alt=\"(HR|bicubic|IRN[^\"]*)\""))
        {
            var image = ImageFile.Decode(Convert.FromBase64String(m.Groups[1].Value));
            Assert.Equal(int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), image.Width);
            Assert.Equal(image.Width, image.Height);
            Assert.True(image.Width >= 64, $"{m.Groups[4].Value}: a {image.Width}-pixel crop is not zoomed");
        }
        Assert.Empty(Directory.GetFiles(dir.File("out"), "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void Report_scores_match_eval_and_hcd_gets_its_own_crops()
    {
        var data = Crops();
        var report = dir.File("hcd.html");
        string[] common = ["--data", data, "--compress", "jpeg:75", "-t", "1", "--json"];
        var plain = Cli.Run(["eval", "-m", Shipped, .. common]);
        var r = Cli.Run(["eval", "-m", Shipped, .. common, "--collaborative", "--hr-iters", "2", "--lr-iters", "2", "--report", report]);
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.True(r.ExitCode == 0, r.ToString());
        var p = JsonNode.Parse(plain.Out)!;
        var j = JsonNode.Parse(r.Out)!;
        // The report's path is the only addition to the JSON of a single model, and the plain scores are eval's.
        Assert.Equal(report, j["report"]!.GetValue<string>());
        Assert.Equal(p["psnr_y"]!.GetValue<double>(), j["psnr_y"]!.GetValue<double>());
        Assert.Equal(p["bicubic_psnr_y"]!.GetValue<double>(), j["bicubic_psnr_y"]!.GetValue<double>());
        var html = File.ReadAllText(report);
        AssertSelfContained(html);
        Assert.Equal(0, Count(html, "<svg"));
        // Columns bicubic, IRN, IRN + HCD; the mean row carries the JSON's means.
        var mean = Regex.Match(html, "<tr><td><b>mean</b></td><td></td>(.*?)</tr>").Groups[1].Value;
        var cells = Regex.Matches(mean, @"(\d+\.\d\d) / \d\.\d{4}").Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(new[] { "bicubic_psnr_y", "psnr_y", "hcd_psnr_y" }.Select(k => j[k]!.GetValue<double>().ToString("0.00", CultureInfo.InvariantCulture)), cells);
        Assert.Contains("LR compressed with jpeg:75", html);
        Assert.Contains("HCD 2 HR + 2 LR iterations", html);
        Assert.Equal(2, Count(html, "<figcaption style=\"font:12px sans-serif\">IRN (irn-x2) + HCD<"));
        Assert.Equal(2 * 5, Count(html, "<img src=\"data:image/png;base64,"));
    }

    [Fact]
    public void Several_models_without_sweep_or_report_are_a_usage_error()
    {
        var r = Cli.Run("eval", "-m", Shipped, "-m", Small, "--data", Crops());
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("several --model need --sweep or --report", r.Err);
    }

    [Fact]
    public void An_unwritable_report_is_one_error_line_naming_it_and_leaves_nothing_behind()
    {
        var data = Crops();
        var target = Directory.CreateDirectory(dir.File("taken.html")).FullName;   // a directory where the file should go
        var r = Cli.Run("eval", "-m", Small, "--data", data, "--report", target, "-t", "1");
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.ErrLines);
        Assert.Contains(target, r.Err);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp", SearchOption.AllDirectories));
    }

    [FactNeedsChromium]
    public void The_report_renders_in_headless_chromium()
    {
        var report = dir.File("report.html");
        var r = Cli.Run("eval", "-m", Shipped, "--data", Fixtures, "--compress", "jpeg", "--sweep", "30,90",
            "--plot", dir.File("sweep.svg"), "--report", report, "-t", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        int images = ImageNames(Fixtures).Length * 4;   // overview, HR, bicubic, IRN

        var status = HeadlessChromium.Probe(report, HtmlReport.ContentSecurityPolicy, dir.Path);
        Assert.Equal(images, status.Images);
        Assert.Equal(0, status.Broken);
        Assert.Empty(status.Errors);
        Assert.Empty(status.ConsoleLines);
        var plot = Assert.Single(status.Svgs);
        Assert.True(plot.Width >= 600 && plot.Height >= 250, $"the plot rendered {plot.Width}×{plot.Height}");
        Assert.Equal(2, plot.Series);

        var png = dir.File("report.png");
        HeadlessChromium.Screenshot(report, png, 1280, 2400, dir.Path);
        var shot = ImageFile.Read(png);
        Assert.Equal((1280, 2400), (shot.Width, shot.Height));
        var rgb = shot.ToRgb().ToInterleaved8();
        int pixels = shot.Width * shot.Height, nonWhite = 0;
        var colours = new HashSet<int>();
        for (int i = 0; i < pixels; i++)
        {
            int c = rgb[3 * i] << 16 | rgb[3 * i + 1] << 8 | rgb[3 * i + 2];
            colours.Add(c);
            if (c != 0xFFFFFF) nonWhite++;
        }
        // Text alone covers a few percent with a few hundred anti-aliasing greys; the photographs' crops bring
        // tens of thousands of colours and cover much of the page.
        Assert.True(nonWhite > pixels / 10, $"only {nonWhite} of {pixels} screenshot pixels are not white");
        Assert.True(colours.Count > 5000, $"the screenshot has only {colours.Count} distinct colours: the images did not render");
    }
}
