using System.Text.Json.Nodes;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Tests.Shared;
using Xunit;

namespace MLNet.Rescale.Cli.Tests;

public sealed class CompressionCommandTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private static string Model => TestPaths.Conformance("irn_x2_small.safetensors");

    private static string Shipped => Path.Combine(TestPaths.RepoRoot, "models", "irn-x2.safetensors");

    /// <summary>Two 96×96 crops of the fixtures: small enough for HCD in a test.</summary>
    private string Data()
    {
        var data = Directory.CreateDirectory(dir.File("data")).FullName;
        ImageFile.Write(ImageFile.Read(TestPaths.Image("butterfly.png")).Crop(80, 80, 96, 96), Path.Combine(data, "butterfly.png"));
        ImageFile.Write(ImageFile.Read(TestPaths.Image("bird.png")).Crop(150, 100, 96, 96), Path.Combine(data, "bird.png"));
        return data;
    }

    private static double Number(JsonNode? node) => node!.GetValue<double>();

    [Theory]
    [InlineData("sain-x4-jpeg.safetensors", "irn-x4.safetensors", "jpeg:75", 4)]
    [InlineData("sain-x2-webp.safetensors", "irn-x2.safetensors", "webp:75", 2)]
    public void A_shipped_sain_beats_irn_and_bicubic_through_its_codec(string sainModel, string irnModel, string codec, int scale)
    {
        var data = Directory.CreateDirectory(dir.File("x" + scale)).FullName;
        ImageFile.Write(ImageFile.Read(TestPaths.Image("butterfly.png")), Path.Combine(data, "butterfly.png"));
        JsonNode Eval(string model)
        {
            var r = Cli.Run("eval", "--model", Path.Combine(TestPaths.RepoRoot, "models", model), "--data", data, "--compress", codec, "--json", "-t", "1");
            Assert.True(r.ExitCode == 0, r.ToString());
            return JsonNode.Parse(r.Out)!;
        }
        var sain = Eval(sainModel);
        var irn = Eval(irnModel);
        Assert.Equal(scale, sain["scale"]!.GetValue<int>());
        Assert.True(Number(sain["psnr_y"]) > Number(irn["psnr_y"]) + 0.5, $"{sainModel} {Number(sain["psnr_y"]):0.00} dB, {irnModel} {Number(irn["psnr_y"]):0.00} dB");
        Assert.True(Number(sain["psnr_y"]) > Number(sain["bicubic_psnr_y"]) + 0.5, $"{sainModel} {Number(sain["psnr_y"]):0.00} dB, bicubic {Number(sain["bicubic_psnr_y"]):0.00} dB");
    }

    [Fact]
    public void Eval_with_gaussian_scale_zero_upscales_with_the_latent_mean_whatever_the_seed()
    {
        var data = Data();
        double Psnr(params string[] extra)
        {
            var r = Cli.Run(["eval", "--model", Model, "--data", data, "--json", "-t", "1", .. extra]);
            Assert.True(r.ExitCode == 0, r.ToString());
            return Number(JsonNode.Parse(r.Out)!["psnr_y"]);
        }
        // A zero latent makes the seed irrelevant; a drawn one does not.
        Assert.Equal(Psnr("--gaussian-scale", "0", "--seed", "0"), Psnr("--gaussian-scale", "0", "--seed", "7"));
        Assert.NotEqual(Psnr("--seed", "0"), Psnr("--seed", "7"));
    }

    [Fact]
    public void Eval_with_compress_passes_the_lr_through_the_real_codec()
    {
        var data = Data();
        var plain = Cli.Run("eval", "--model", Model, "--data", data, "--json", "-t", "1");
        var jpeg = Cli.Run("eval", "--model", Model, "--data", data, "--json", "-t", "1", "--compress", "jpeg:20");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.True(jpeg.ExitCode == 0, jpeg.ToString());
        var p = JsonNode.Parse(plain.Out)!;
        var j = JsonNode.Parse(jpeg.Out)!;
        Assert.Equal("jpeg:20", j["compress"]!.GetValue<string>());
        // Bicubic is deterministic: JPEG at quality 20 must cost it quality.
        Assert.True(Number(j["bicubic_psnr_y"]) < Number(p["bicubic_psnr_y"]) - 0.5, $"{j["bicubic_psnr_y"]} vs {p["bicubic_psnr_y"]}");
        Assert.NotEqual(Number(p["psnr_y"]), Number(j["psnr_y"]));
    }

    [Fact]
    public void Sweep_prints_every_method_at_every_quality_and_writes_a_plot()
    {
        var data = Data();
        var plot = dir.File("sweep.svg");
        var r = Cli.Run("eval", "--model", Model, "--model", Shipped, "--data", data, "--compress", "jpeg", "--sweep", "30,90",
            "--plot", plot, "--json", "-t", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(r.Out)!;
        Assert.Equal([30, 90], json["qualities"]!.AsArray().Select(q => q!.GetValue<int>()));
        var series = json["series"]!.AsArray();
        Assert.Equal(["IRN (irn_x2_small)", "IRN (irn-x2)", "bicubic"], series.Select(s => s!["method"]!.GetValue<string>()));
        foreach (var s in series)
        {
            var psnr = s!["psnr_y"]!.AsArray().Select(Number).ToArray();
            Assert.Equal(2, psnr.Length);
            Assert.True(psnr[1] > psnr[0], $"{s["method"]}: quality 90 ({psnr[1]:0.00} dB) should beat quality 30 ({psnr[0]:0.00} dB)");
        }
        var svg = File.ReadAllText(plot);
        Assert.StartsWith("<svg", svg);
        var texts = SvgChart.Texts(svg);
        Assert.Contains("bicubic", texts);
        Assert.Contains("IRN (irn-x2)", texts);
        Assert.Contains("mean Y-PSNR (dB)", texts);   // the axes say what and in which unit
        Assert.Equal(3, SvgChart.SeriesColors(svg).Count);
        // The same chart as PNG when the file says so.
        var png = dir.File("sweep.png");
        r = Cli.Run("eval", "--model", Shipped, "--data", data, "--compress", "jpeg", "--sweep", "30,90", "--plot", png, "-t", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        var image = ImageFile.Read(png);
        Assert.Equal((720, 320), (image.Width, image.Height));
    }

    [Theory]
    [InlineData("--compress", "png:50", "jpeg or webp")]
    [InlineData("--compress", "jpeg:0", "quality must be 1–100")]
    [InlineData("--compress", "jpeg", "CODEC:QUALITY")]
    [InlineData("--sweep", "30,abc", "'abc'")]
    public void Bad_codec_settings_are_usage_errors(string option, string value, string message)
    {
        var r = Cli.Run("eval", "--model", Model, "--data", Data(), option, value);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Err);
    }

    [Fact]
    public void Downscale_collaborative_reports_the_round_trip_before_and_after()
    {
        var input = dir.File("in.png");
        ImageFile.Write(ImageFile.Read(TestPaths.Image("bird.png")).Crop(150, 100, 64, 64), input);
        var output = dir.File("lr.png");
        var r = Cli.Run("downscale", input, "-o", output, "--model", Shipped, "--collaborative", "--hr-iters", "2", "--lr-iters", "2", "-t", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("HCD 2 HR + 2 LR iterations", r.Out);
        Assert.Contains("round-trip Y-PSNR", r.Out);
        var lr = ImageFile.Read(output);
        Assert.Equal((32, 32), (lr.Width, lr.Height));
    }

    [Fact]
    public void Eval_collaborative_under_jpeg_scores_both_round_trips()
    {
        var r = Cli.Run("eval", "--model", Shipped, "--data", Data(), "--json", "-t", "1", "--compress", "jpeg:75",
            "--collaborative", "--hr-iters", "1", "--lr-iters", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(r.Out)!;
        Assert.InRange(Number(json["hcd_psnr_y"]), 20, 60);
        Assert.True(Number(json["hcd_seconds_per_megapixel"]) > 0);
        foreach (var image in json["images"]!.AsArray()) Assert.True(Number(image!["hcd_seconds"]) > 0);
        // The one-time warm-up ran before timing and is reported apart.
        Assert.True(Number(json["hcd_warmup_seconds"]) > 0);
        // Through a JPEG the serving recipe runs the HR stage too.
        var serving = Cli.Run("eval", "--model", Shipped, "--data", Data(), "-t", "1", "--compress", "jpeg:75", "--collaborative", "--hcd-recipe", "serving");
        Assert.True(serving.ExitCode == 0, serving.ToString());
        Assert.Contains("HCD 1 HR + 2 LR iterations, ε 0.5, step 0.2353 ×0.8 per iteration, momentum 0.5, started at δ = 0", serving.Out);
    }

    [Fact]
    public void Downscale_collaborative_takes_the_serving_recipe_with_overrides_and_a_budget()
    {
        var input = dir.File("in.png");
        ImageFile.Write(ImageFile.Read(TestPaths.Image("bird.png")).Crop(150, 100, 64, 64), input);
        var r = Cli.Run("downscale", input, "-o", dir.File("lr.png"), "--model", Shipped, "--collaborative", "--hcd-recipe", "serving", "--lr-iters", "1", "-t", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        // The recipe's HR iterations, steps and ball; the LR iterations given on the command line.
        Assert.Contains("HCD 0 HR + 1 LR iterations, ε 0.5, step 0.2353 ×0.8 per iteration, momentum 0.5, started at δ = 0", r.Out);
        // --hcd-start, --step-decay and --momentum override the recipe's.
        var random = Cli.Run("downscale", input, "-o", dir.File("lr-random.png"), "--model", Shipped, "--collaborative", "--hcd-recipe", "serving",
            "--hcd-start", "random", "--step-decay", "1", "--momentum", "0", "-t", "1");
        Assert.True(random.ExitCode == 0, random.ToString());
        Assert.Contains("HCD 0 HR + 3 LR iterations, ε 0.5, step 0.2353: ", random.Out);
        // At ×4 the serving recipe is the same.
        var x4 = Cli.Run("downscale", input, "-o", dir.File("lr4.png"), "--model", Path.Combine(TestPaths.RepoRoot, "models", "irn-x4.safetensors"),
            "--collaborative", "--hcd-recipe", "serving", "-t", "1");
        Assert.True(x4.ExitCode == 0, x4.ToString());
        Assert.Contains("HCD 0 HR + 3 LR iterations, ε 0.5, step 0.2353 ×0.8 per iteration, momentum 0.5, started at δ = 0", x4.Out);
        var budgeted = Cli.Run("downscale", input, "-o", dir.File("lr0.png"), "--model", Shipped, "--collaborative", "--hcd-budget", "0", "-t", "1");
        Assert.True(budgeted.ExitCode == 0, budgeted.ToString());
        Assert.Contains("budget 0 s/MP", budgeted.Out);
        // No time for any iteration: the plain LR.
        var plain = Cli.Run("downscale", input, "-o", dir.File("plain.png"), "--model", Shipped, "-t", "1");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Equal(ImageFile.Read(dir.File("plain.png")).Data, ImageFile.Read(dir.File("lr0.png")).Data);
    }

    [Fact]
    public void Eval_hcd_budgets_plots_the_gain_against_the_budget()
    {
        var plot = dir.File("gain.svg");
        var r = Cli.Run("eval", "--model", Shipped, "--data", Data(), "--json", "-t", "1", "--collaborative", "--hcd-recipe", "serving",
            "--hcd-budgets", "0.001,1e6", "--plot", plot);
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(r.Out)!;
        var runs = json["runs"]!.AsArray();
        Assert.Equal(3, runs.Count);   // the two budgets and the unlimited run
        Assert.Equal(0, Number(runs[0]!["gain_db"]));   // a millisecond per megapixel leaves no time for an iteration
        Assert.Equal(Number(runs[2]!["gain_db"]), Number(runs[1]!["gain_db"]), 9);   // a budget never reached changes nothing
        Assert.StartsWith("<svg", File.ReadAllText(plot).TrimStart());
        var usage = Cli.Run("eval", "--model", Shipped, "--data", Data(), "--hcd-budgets", "5");
        Assert.Equal(2, usage.ExitCode);
        Assert.Contains("--hcd-budgets needs --collaborative", usage.Err);
    }

    [Theory]
    [InlineData("--epsilon", "-1", "epsilon must be finite and ≥ 0")]
    [InlineData("--hcd-recipe", "fast", "--hcd-recipe must be paper or serving")]
    [InlineData("--hcd-start", "middle", "--hcd-start must be random or zero")]
    [InlineData("--hcd-budget", "-3", "budget must be finite and ≥ 0")]
    [InlineData("--momentum", "1", "momentum must be in [0, 1)")]
    [InlineData("--step-decay", "0", "step decay must be in (0, 1]")]
    public void Collaborative_settings_out_of_range_are_usage_errors(string option, string value, string message)
    {
        var r = Cli.Run("downscale", TestPaths.Image("bird.png"), "-o", dir.File("x.png"), "--model", Model, "--collaborative", option, value);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Err);
        Assert.Single(r.ErrLines);
    }
}
