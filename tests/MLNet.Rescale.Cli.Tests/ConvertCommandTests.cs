using MLNet.Rescale.IO;

namespace MLNet.Rescale.Cli.Tests;

/// <summary><c>rescale convert</c> and <c>--device</c>.</summary>
public class ConvertCommandTests
{
    private static string Pth(string name) => Path.Combine(TestPaths.Fixtures, "pth", name);

    [Fact]
    public void A_pytorch_checkpoint_becomes_a_model_file_with_the_inferred_architecture()
    {
        using var dir = new TempDir();
        string output = dir.File("irn.safetensors");
        var run = Cli.Run("convert", Pth("irn_x2.pth"), "-o", output);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("model=IRN, scale=2, block_num=[1], gc=8, clamp=1.0, latent_scale=1.0", run.Out);
        var file = SafetensorsFile.Read(output);
        Assert.Equal("IRN", file.Metadata["model"]);
        Assert.Equal("irn_x2.pth", file.Metadata["converted_from"]);
        Assert.Equal(31, file.Entries.Count);
        // --arch sets what the weights cannot tell.
        string spread = dir.File("spread.safetensors");
        Assert.Equal(0, Cli.Run("convert", Pth("irn_x2.pth"), "-o", spread, "--arch", "latent_scale=0.5").ExitCode);
        Assert.Equal("0.5", SafetensorsFile.Read(spread).Metadata["latent_scale"]);
        // The converted file and the .pth itself upscale identically (same weights, same latent seed).
        string lr = dir.File("lr.png");
        Assert.Equal(0, Cli.Run("downscale", TestPaths.Image("butterfly.png"), "-o", lr, "--model", output).ExitCode);
        var a = Cli.Run("upscale", lr, "-o", dir.File("a.png"), "--model", output, "--seed", "3");
        var b = Cli.Run("upscale", lr, "-o", dir.File("b.png"), "--model", Pth("irn_x2.pth"), "--seed", "3");
        Assert.True(a.ExitCode == 0 && b.ExitCode == 0, a + "\n" + b);
        Assert.Equal(File.ReadAllBytes(dir.File("a.png")), File.ReadAllBytes(dir.File("b.png")));
    }

    [Fact]
    public void A_hostile_checkpoint_is_refused_in_one_line_and_nothing_is_written()
    {
        using var dir = new TempDir();
        string output = dir.File("x.safetensors");
        var run = Cli.Run("convert", Pth("hostile_os_system.pth"), "-o", output);
        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrLines);
        Assert.Contains("hostile_os_system.pth", run.Err);
        Assert.Contains("posix.system", run.Err);
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData("--arch", "clamp", "KEY=VALUE")]
    [InlineData("--device", "tpu", "--device must be cpu, cuda or cuda:N")]
    public void Bad_options_are_usage_errors(string option, string value, string message)
    {
        using var dir = new TempDir();
        var run = Cli.Run("convert", Pth("irn_x2.pth"), "-o", dir.File("x.safetensors"), option, value);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(message, run.Err);
    }

    [Fact]
    public void Cuda_on_a_cpu_build_is_one_clear_error()
    {
        using var dir = new TempDir();
        var run = Cli.Run("roundtrip", TestPaths.Image("butterfly.png"), "-o", dir.Path, "--model", Path.Combine(TestPaths.RepoRoot, "models", "irn-x2.safetensors"), "--device", "cuda");
        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrLines);
        Assert.Contains("no CUDA device", run.Err);
    }
}
