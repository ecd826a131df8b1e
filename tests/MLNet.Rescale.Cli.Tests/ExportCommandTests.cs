using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;

namespace MLNet.Rescale.Cli.Tests;

public sealed class ExportCommandTests
{
    [Theory]
    [InlineData("irn-x4", 4)]
    [InlineData("sain-x2-jpeg", 2)]
    public void Export_writes_both_graphs_with_dynamic_sizes(string model, int scale)
    {
        using var dir = new TempDir();
        var run = Cli.Run("export", model, "--onnx", dir.File("onnx"));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("opset 21", run.Out);
        foreach (var (file, role) in new[] { ("downscale.onnx", "downscale"), ("upscale.onnx", "upscale") })
        {
            using var session = new InferenceSession(Path.Combine(dir.Path, "onnx", file));
            var input = Assert.Single(session.InputMetadata);
            Assert.Equal("input", input.Key);
            Assert.Equal([-1, 3, -1, -1], input.Value.Dimensions);
            Assert.Equal("output", Assert.Single(session.OutputMetadata).Key);
            var meta = session.ModelMetadata.CustomMetadataMap;
            Assert.Equal(role, meta["role"]);
            Assert.Equal(scale.ToString(System.Globalization.CultureInfo.InvariantCulture), meta["scale"]);
        }
        Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "onnx"), "*.tmp*"));
    }

    [Fact]
    public void Latent_input_adds_z_to_the_upscaler()
    {
        using var dir = new TempDir();
        var run = Cli.Run("export", "irn-x2", "--onnx", dir.Path, "--latent-input");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("the latent as input 'z'", run.Out);
        using var session = new InferenceSession(dir.File("upscale.onnx"));
        Assert.Equal(["input", "z"], session.InputMetadata.Keys.ToArray());
        Assert.Equal([-1, 9, -1, -1], session.InputMetadata["z"].Dimensions);
        Assert.Equal("input", session.ModelMetadata.CustomMetadataMap["latent"]);
    }

    [Fact]
    public void Export_errors_name_the_problem()
    {
        using var dir = new TempDir();
        var noFolder = Cli.Run("export", "irn-x2");
        Assert.NotEqual(0, noFolder.ExitCode);
        Assert.Contains("--onnx", noFolder.Err);
        var missing = Cli.Run("export", dir.File("nope.safetensors"), "--onnx", dir.File("out"));
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("nope.safetensors", missing.Err);
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Fact]
    public void Bench_onnx_times_both_engines_on_the_same_weights()
    {
        var run = Cli.Run("bench", "--onnx", "--weights", Path.Combine(TestPaths.RepoRoot, "models", "irn-x2.safetensors"),
            "--scale", "2", "--size", "32", "--repeat", "1", "--rounds", "2", "--threads", "1", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var o = JsonNode.Parse(run.Out)!;
        Assert.Equal(16, o["lr_size"]!.GetValue<int>());
        foreach (var key in new[] { "torch_down_s", "torch_up_s", "onnx_down_s", "onnx_up_s" })
        {
            Assert.True(o[key]!.GetValue<double>() > 0, key);
            Assert.Equal(2, o[key + "_runs"]!.AsArray().Count);
        }
        Assert.True(o["torch_vs_onnx_max_abs_lr"]!.GetValue<double>() < 1e-4);
        Assert.True(o["torch_vs_onnx_max_abs_hr"]!.GetValue<double>() < 1e-4);
        var both = Cli.Run("bench", "--onnx", "--compare");
        Assert.NotEqual(0, both.ExitCode);
        Assert.Contains("--onnx and --compare", both.Err);
    }
}
