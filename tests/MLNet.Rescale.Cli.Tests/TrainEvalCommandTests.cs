using System.Text.Json.Nodes;
using MLNet.Rescale.Tests.Shared;
using Xunit;

namespace MLNet.Rescale.Cli.Tests;

public sealed class TrainEvalCommandTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private string Data()
    {
        var data = Directory.CreateDirectory(dir.File("data")).FullName;
        File.Copy(TestPaths.Image("butterfly.png"), Path.Combine(data, "butterfly.png"));
        File.Copy(TestPaths.Image("bird.png"), Path.Combine(data, "bird.png"));
        return data;
    }

    [Fact]
    public void Train_resume_and_eval_produce_a_run_folder_and_metrics()
    {
        string data = Data(), run = dir.File("run");
        string[] common = ["--scale", "2", "--data", data, "--out", run, "--blocks", "1", "--batch", "2", "--patch", "32", "--lr", "1e-3", "--threads", "1"];
        var first = Cli.Run(["train", .. common, "--iterations", "4"]);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("stopped at iteration 4", first.Out);
        var resumed = Cli.Run(["train", .. common, "--iterations", "6", "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("from iteration 4", resumed.Out);
        Assert.Contains("stopped at iteration 6", resumed.Out);
        // Resumed without a budget, the run keeps its own (6, saved by the resume above): nothing is left to do.
        var again = Cli.Run(["train", .. common, "--resume"]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("from iteration 6", again.Out);
        Assert.Contains("stopped at iteration 6", again.Out);
        foreach (var f in new[] { "checkpoint.safetensors", "model.safetensors", "metrics.jsonl", "curve.svg", "options.json" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);

        var eval = Cli.Run("eval", "--model", Path.Combine(run, "model.safetensors"), "--data", data, "--json", "--threads", "1");
        Assert.True(eval.ExitCode == 0, eval.ToString());
        var json = JsonNode.Parse(eval.Out)!;
        Assert.Equal(2, json["images"]!.AsArray().Count);
        foreach (var key in new[] { "psnr_y", "ssim_y", "bicubic_psnr_y", "bicubic_ssim_y" })
            Assert.True(json[key]!.GetValue<double>() > 0, key);
        // The baseline is deterministic: the papers' MATLAB-bicubic numbers for these two Set5 images.
        Assert.InRange(json["bicubic_psnr_y"]!.GetValue<double>(), 31, 34);
    }

    [Fact]
    public void Train_model_sain_runs_through_the_codec_and_resumes()
    {
        string data = Data(), run = dir.File("sain");
        string[] common = ["--model", "sain", "--codec", "jpeg:75", "--e-blocks", "1", "--v-blocks", "1", "--scale", "2", "--data", data,
            "--out", run, "--batch", "2", "--patch", "32", "--lr", "1e-3", "--threads", "1"];
        var first = Cli.Run(["train", .. common, "--iterations", "3"]);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("training SAIN ×2 through jpeg:75", first.Out);
        Assert.Contains("stopped at iteration 3", first.Out);
        var resumed = Cli.Run(["train", .. common, "--iterations", "4", "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("from iteration 3", resumed.Out);

        var options = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "options.json")))!;
        Assert.Equal("Sain", options["Architecture"]!.GetValue<string>());
        Assert.Equal(1, options["EnhancedBlocks"]!.GetValue<int>());
        Assert.Equal("jpeg:75", options["Codec"]!.GetValue<string>());
        var last = JsonNode.Parse(File.ReadLines(Path.Combine(run, "metrics.jsonl")).Last())!;
        Assert.Equal(4, last["iteration"]!.GetValue<long>());
        foreach (var key in new[] { "back", "fit1", "fit2", "reg", "rel" }) Assert.True(last[key]!.GetValue<double>() >= 0, key);

        // The trained file is a SAIN model the other commands take.
        var eval = Cli.Run("eval", "--model", Path.Combine(run, "model.safetensors"), "--data", data, "--compress", "jpeg:75", "--json", "--threads", "1");
        Assert.True(eval.ExitCode == 0, eval.ToString());
        Assert.True(JsonNode.Parse(eval.Out)!["psnr_y"]!.GetValue<double>() > 0);
    }

    [Fact]
    public void Train_with_two_val_folders_validates_on_the_first_and_also_scores_the_second()
    {
        string data = Data(), run = dir.File("two-val");
        var second = Directory.CreateDirectory(dir.File("Set14")).FullName;
        File.Copy(TestPaths.Image("bird.png"), Path.Combine(second, "bird.png"));
        var r = Cli.Run("train", "--scale", "2", "--data", data, "--val", data, "--val", second, "--out", run, "--blocks", "1", "--batch", "2",
            "--patch", "32", "--iterations", "2", "--validate-every", "2", "--threads", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        var options = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "options.json")))!;
        Assert.Equal(data, options["ValidationFolder"]!.GetValue<string>());
        Assert.Equal(second, Assert.Single(options["ExtraValidationFolders"]!.AsArray())!.GetValue<string>());
        var last = JsonNode.Parse(File.ReadLines(Path.Combine(run, "metrics.jsonl")).Last())!;
        // Two images against one of them: the scores are the two sets', not one copied into both columns.
        Assert.NotEqual(last["val_psnr_y"]!.GetValue<double>(), last["val_psnr_y_Set14"]!.GetValue<double>());
    }

    [Theory]
    [InlineData("--model", "sain", "--blocks", "2")]
    [InlineData("--e-blocks", "2")]
    [InlineData("--codec", "jpeg:75")]
    [InlineData("--model", "sain", "--codec", "png:5")]
    [InlineData("--model", "gan")]
    [InlineData("--model", "sain", "--latent-scale", "0")]
    [InlineData("--latent-scale", "-1")]
    [InlineData("--latent-scale", "NaN")]
    [InlineData("--average", "1")]
    [InlineData("--average", "0")]
    public void Train_options_of_the_other_model_are_usage_errors(params string[] extra)
    {
        var r = Cli.Run(["train", "--data", Data(), "--out", dir.File("run"), "--iterations", "1", .. extra]);
        Assert.Equal(2, r.ExitCode);
        Assert.False(File.Exists(Path.Combine(dir.File("run"), "options.json")));
    }

    [Fact]
    public void Train_with_latent_scale_records_it_and_a_warm_start_inherits_it()
    {
        string data = Data(), first = dir.File("z0"), second = dir.File("x4");
        string[] common = ["--data", data, "--batch", "2", "--patch", "32", "--iterations", "1", "--threads", "1"];
        var r = Cli.Run(["train", .. common, "--scale", "2", "--blocks", "1", "--out", first, "--latent-scale", "0"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        string model = Path.Combine(first, "model.safetensors");
        Assert.Equal("0.0", MLNet.Rescale.IO.SafetensorsFile.Read(model).Metadata["latent_scale"]);
        // A x4 run started from it trains with the spread its first level was trained with, unless told otherwise.
        r = Cli.Run(["train", .. common, "--scale", "4", "--blocks", "1,1", "--out", second, "--init-from", model]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(0, JsonNode.Parse(File.ReadAllText(Path.Combine(second, "options.json")))!["LatentScale"]!.GetValue<double>());
        r = Cli.Run(["train", .. common, "--scale", "4", "--blocks", "1,1", "--out", dir.File("x4-reference"), "--init-from", model, "--latent-scale", "1"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(1, JsonNode.Parse(File.ReadAllText(Path.Combine(dir.File("x4-reference"), "options.json")))!["LatentScale"]!.GetValue<double>());
    }

    [Fact]
    public void Eval_of_a_missing_folder_is_one_line_naming_it()
    {
        var missing = dir.File("nope");
        var r = Cli.Run("eval", "--model", TestPaths.Conformance("irn_x2_small.safetensors"), "--data", missing);
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.ErrLines);
        Assert.Contains(missing, r.Err);
    }

    [Fact]
    public void Resume_without_a_checkpoint_is_a_clear_error()
    {
        var run = dir.File("empty-run");
        var r = Cli.Run("train", "--data", Data(), "--out", run, "--resume", "--iterations", "1");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no checkpoint.safetensors to resume from", r.Err);
    }
}
