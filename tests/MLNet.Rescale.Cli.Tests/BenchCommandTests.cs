using System.Globalization;
using System.Text.Json;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Tensors;
using MLNet.Rescale.Tensors.IO;

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
            SafetensorsFile.Write(path, net.NamedParameters().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.Value)));

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
            parameters = net.ParameterCount;
            SafetensorsFile.Write(path, net.NamedParameters().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.Value)));
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
    public void Size_not_divisible_by_the_scale_is_a_usage_error()
    {
        var run = Cli.Run("bench", "--scale", "4", "--size", "30", "--repeat", "1");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(30.ToString(CultureInfo.InvariantCulture), run.Err);
    }
}
