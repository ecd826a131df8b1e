using System.Globalization;
using System.Text.Json;
using MLNet.Rescale.Networks;
using MLNet.Rescale.IO;
using static TorchSharp.torch;

namespace MLNet.Rescale.Cli.Tests;

public class BenchCommandTests
{
    [Fact]
    public void Bench_prints_reference_keys_as_json()
    {
        var run = Cli.Run("bench", "--model", "irn", "--scale", "4", "--size", "64", "--repeat", "1", "--blocks", "1", "--threads", "1", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        using var doc = JsonDocument.Parse(run.Out.Trim());
        var root = doc.RootElement;
        Assert.True(root.GetProperty("forward_s").GetDouble() > 0);
        Assert.True(root.GetProperty("inverse_s").GetDouble() > 0);
        Assert.True(root.GetProperty("peak_rss_mib").GetDouble() > 0);
        Assert.True(root.GetProperty("params").GetInt64() > 0);
        Assert.Equal("irn", root.GetProperty("model").GetString());
        Assert.Equal(4, root.GetProperty("scale").GetInt32());
        Assert.Equal(64, root.GetProperty("size").GetInt32());
        Assert.Equal(1, root.GetProperty("threads").GetInt32());
        Assert.Equal("mlnet-rescale", root.GetProperty("impl").GetString());
        Assert.False(root.TryGetProperty("train_step_s", out _));
    }

    [Fact]
    public void Bench_times_a_training_step_on_plain_weights_loaded_by_name()
    {
        using var dir = new TempDir();
        // A state dict without metadata, as torch_reference.py --save-weights writes it.
        var path = dir.File("weights.safetensors");
        using (var gen = new Generator(1))
        using (var net = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [1] }, gen))
            SafetensorsFile.Write(path, net.state_dict());

        var run = Cli.Run("bench", "--scale", "2", "--blocks", "1", "--size", "32", "--repeat", "1", "--threads", "1",
            "--weights", path, "--train-batch", "2", "--train-patch", "16", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        using var doc = JsonDocument.Parse(run.Out.Trim());
        Assert.True(doc.RootElement.GetProperty("train_step_s").GetDouble() > 0);
        Assert.Equal(2, doc.RootElement.GetProperty("train_batch").GetInt32());

        // The same weights under a wrong architecture are a one-line error naming the file.
        run = Cli.Run("bench", "--scale", "2", "--blocks", "3", "--size", "32", "--repeat", "1", "--weights", path, "--json");
        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrLines);
        Assert.Contains("weights.safetensors", run.ErrLines[0]);
    }

    [Fact]
    public void Bench_times_sain_on_its_conformance_weights_loaded_by_name()
    {
        using var dir = new TempDir();
        // A SAIN state dict of the reference's ×2 shape (5 enhanced + 3 vanilla blocks), as torch_reference.py --save-weights writes it.
        var path = dir.File("sain.safetensors");
        long parameters;
        using (var gen = new Generator(3))
        using (var net = new SainNetwork(new SainOptions { Scale = 2 }, gen))
        {
            parameters = net.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
            SafetensorsFile.Write(path, net.state_dict());
        }
        var run = Cli.Run("bench", "--model", "sain", "--scale", "2", "--weights", path, "--size", "32", "--repeat", "1", "--threads", "1",
            "--train-batch", "1", "--train-patch", "16", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        using var doc = JsonDocument.Parse(run.Out.Trim());
        var root = doc.RootElement;
        Assert.Equal("sain", root.GetProperty("model").GetString());
        Assert.True(root.GetProperty("train_step_s").GetDouble() > 0);
        Assert.Equal(parameters, root.GetProperty("params").GetInt64());
    }

    [Fact]
    public void Human_output_is_a_table()
    {
        var run = Cli.Run("bench", "--scale", "2", "--size", "32", "--repeat", "1", "--blocks", "1", "--threads", "1");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("forward (s)", run.Out);
        Assert.Contains(544392 / 4 > 0 ? "parameters" : "", run.Out);
    }

    [Fact]
    public void Compare_without_the_reference_script_exits_2_and_says_why()
    {
        var run = Cli.Run("bench", "--size", "32", "--repeat", "1", "--compare", "--reference", "/nonexistent/torch_reference.py");
        Assert.Equal(2, run.ExitCode);
        Assert.Single(run.ErrLines);
        Assert.Contains("torch_reference.py", run.ErrLines[0]);
    }

    [Fact]
    public void Compare_rounds_alternate_and_report_each_sides_median()
    {
        using var dir = new TempDir();
        // A stand-in for torch_reference.py: it hands over the weights of an IRN ×2 with the reference's 8 blocks and
        // reports a different forward time on each call (3, 1, 2 s), so the median of three runs is 2.
        var weights = dir.File("irn.safetensors");
        using (var gen = new Generator(2))
        using (var net = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [8] }, gen))
            SafetensorsFile.Write(weights, net.state_dict());
        var counter = dir.File("calls");
        var script = dir.File("fake_reference.sh");
        File.WriteAllText(script, $$"""
            calls=$(cat '{{counter}}' 2>/dev/null || echo 0); calls=$((calls + 1)); echo $calls > '{{counter}}'
            while [ $# -gt 0 ]; do [ "$1" = --save-weights ] && cp '{{weights}}' "$2"; shift; done
            case $calls in 1) f=3;; 2) f=1;; *) f=2;; esac
            echo "{\"model\": \"irn\", \"scale\": 2, \"params\": 1, \"forward_s\": $f, \"inverse_s\": 0.5, \"peak_rss_mib\": $((100 * calls)), \"torch\": \"fake\"}"
            """);
        var run = Cli.Run("bench", "--compare", "--python", "/bin/sh", "--reference", script, "--scale", "2", "--size", "16",
            "--repeat", "1", "--threads", "1", "--rounds", "3", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("3", File.ReadAllText(counter).Trim());
        using var doc = JsonDocument.Parse(run.Out.Trim());
        var torch = doc.RootElement.GetProperty("pytorch");
        Assert.Equal(2.0, torch.GetProperty("forward_s").GetDouble());
        Assert.Equal([3.0, 1.0, 2.0], torch.GetProperty("forward_s_runs").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(300.0, torch.GetProperty("peak_rss_mib").GetDouble());
        var ours = doc.RootElement.GetProperty("ours");
        Assert.Equal(3, ours.GetProperty("runs").GetInt32());
        var mine = ours.GetProperty("forward_s_runs").EnumerateArray().Select(e => e.GetDouble()).Order().ToArray();
        Assert.Equal(3, mine.Length);
        Assert.Equal(mine[1], ours.GetProperty("forward_s").GetDouble());

        // The table says how the figures were taken and lists every run.
        File.Delete(counter);
        string chart = dir.File("runs.svg");
        run = Cli.Run("bench", "--compare", "--python", "/bin/sh", "--reference", script, "--scale", "2", "--size", "16",
            "--repeat", "1", "--threads", "1", "--rounds", "3", "--plot", chart);
        Assert.True(run.ExitCode == 0, run.ToString());
        var svg = File.ReadAllText(chart);
        var texts = SvgChart.Texts(svg);
        Assert.Contains(texts, t => t.Contains("forward 16×16", StringComparison.Ordinal));
        Assert.Contains(texts, t => t.Contains("inverse 16×16", StringComparison.Ordinal));
        // Two measures, two sides: each side's line runs through its three runs in both charts.
        Assert.Equal(["#1F77B4", "#D62728"], SvgChart.SeriesColors(svg).Order());
        Assert.Equal(3, SvgChart.LinePoints(svg, "#1F77B4"));
        Assert.Equal(3, SvgChart.LinePoints(svg, "#D62728"));
        Assert.Contains("alternating", run.Out);
        Assert.Contains("round 3/3", run.Out);
        Assert.Contains("PyTorch 3.000, 1.000, 2.000", run.Out);
    }

    [Theory]
    [InlineData("0", "--compare")]
    [InlineData("2", "--json")]
    [InlineData("1", "--plot=runs.svg")]
    public void Rounds_below_one_or_without_compare_are_usage_errors(string rounds, string other)
    {
        var run = Cli.Run("bench", "--size", "16", "--scale", "2", "--repeat", "1", "--rounds", rounds, other);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(other.StartsWith("--plot", StringComparison.Ordinal) ? "--plot" : "--rounds", run.Err);
    }

    [Fact]
    public void Size_not_divisible_by_the_scale_is_a_usage_error()
    {
        var run = Cli.Run("bench", "--scale", "4", "--size", "30", "--repeat", "1");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(30.ToString(CultureInfo.InvariantCulture), run.Err);
    }
}
