using MLNet.Rescale.Imaging;
using MLNet.Rescale.Networks;
using static TorchSharp.torch;

namespace MLNet.Rescale.Cli.Tests;

public sealed class ImageCommandTests : IDisposable
{
    private readonly TempDir dir = new();
    private readonly string model;

    public ImageCommandTests()
    {
        // Random weights are enough for the plumbing: a fresh IRN is a near-identity coupling on Haar.
        model = dir.File("irn_x2_b2.safetensors");
        using var gen = new Generator(7);
        using var net = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [2] }, gen);
        ModelFile.Save(net, model);
    }

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Roundtrip_writes_lr_reconstruction_and_bicubic_and_scores_them()
    {
        var output = dir.File("out");
        var run = Cli.Run("roundtrip", TestPaths.Image("butterfly.png"), "-o", output, "--model", model, "--threads", "2", "--gaussian-scale", "0");
        Assert.True(run.ExitCode == 0, run.ToString());
        var input = ImageFile.Read(TestPaths.Image("butterfly.png"));
        AssertSize(Path.Combine(output, "butterfly_lr.png"), input.Width / 2, input.Height / 2);
        var hr = AssertSize(Path.Combine(output, "butterfly_hr.png"), input.Width, input.Height);
        AssertSize(Path.Combine(output, "butterfly_bicubic.png"), input.Width, input.Height);
        Assert.Contains("Y-PSNR", run.Out);
        Assert.Contains("Bicubic", run.Out);
        Assert.True(Metrics.Psnr(input, hr, 2, yOnly: true) > 20, "a near-identity IRN should round-trip reasonably");
    }

    [Fact]
    public void Roundtrip_of_a_size_not_divisible_by_the_scale_keeps_the_size()
    {
        var src = ImageFile.Read(TestPaths.Image("butterfly.png")).Crop(10, 20, 77, 53);
        var path = dir.File("odd.png");
        ImageFile.Write(src, path);
        var output = dir.File("out");
        var run = Cli.Run("roundtrip", path, "-o", output, "--model", model, "--threads", "2", "--seed", "3");
        Assert.True(run.ExitCode == 0, run.ToString());
        AssertSize(Path.Combine(output, "odd_lr.png"), 39, 27);
        AssertSize(Path.Combine(output, "odd_hr.png"), 77, 53);
        AssertSize(Path.Combine(output, "odd_bicubic.png"), 77, 53);
    }

    [Fact]
    public void Downscale_then_upscale_restores_the_original_size()
    {
        var src = ImageFile.Read(TestPaths.Image("butterfly.png")).Crop(0, 0, 41, 30);
        var hrPath = dir.File("small.png");
        ImageFile.Write(src, hrPath);
        var lrPath = dir.File("small_lr.png");
        var run = Cli.Run("downscale", hrPath, "-o", lrPath, "--model", model, "--threads", "1");
        Assert.True(run.ExitCode == 0, run.ToString());
        AssertSize(lrPath, 21, 15);
        var upPath = dir.File("small_up.png");
        run = Cli.Run("upscale", lrPath, "-o", upPath, "--model", model, "--width", "41", "--height", "30", "--seed", "1", "--gaussian-scale", "0.8");
        Assert.True(run.ExitCode == 0, run.ToString());
        AssertSize(upPath, 41, 30);
    }

    [Fact]
    public void Upscale_to_an_impossible_size_fails_with_one_line()
    {
        var run = Cli.Run("upscale", TestPaths.Image("butterfly_LRx2_matlab.png"), "-o", dir.File("x.png"), "--model", model, "--width", "7");
        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrLines);
        Assert.Contains("butterfly_LRx2_matlab.png", run.ErrLines[0]);
        Assert.False(File.Exists(dir.File("x.png")));
    }

    [Fact]
    public void Downscale_of_a_non_image_fails_naming_the_file()
    {
        var path = dir.File("notes.png");
        File.WriteAllText(path, "this is not an image");
        var run = Cli.Run("downscale", path, "-o", dir.File("lr.png"), "--model", model);
        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrLines);
        Assert.Contains("notes.png", run.ErrLines[0]);
        Assert.DoesNotContain("   at ", run.Err);
    }

    [Fact]
    public void Downscale_of_a_missing_image_fails_naming_the_file()
    {
        var run = Cli.Run("downscale", dir.File("absent.png"), "-o", dir.File("lr.png"), "--model", model);
        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrLines);
        Assert.Contains("absent.png", run.ErrLines[0]);
    }

    [Fact]
    public void A_missing_model_fails_naming_it()
    {
        var run = Cli.Run("downscale", TestPaths.Image("butterfly.png"), "-o", dir.File("lr.png"), "--model", dir.File("nope.safetensors"));
        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrLines);
        Assert.Contains("nope.safetensors", run.ErrLines[0]);
        Assert.False(File.Exists(dir.File("lr.png")));
    }

    [Fact]
    public void A_file_that_is_not_a_model_fails_naming_it()
    {
        // A valid safetensors file without model metadata.
        var run = Cli.Run("roundtrip", TestPaths.Image("butterfly.png"), "-o", dir.File("o"), "--model", TestPaths.Conformance("bicubic_small.safetensors"));
        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrLines);
        Assert.Contains("bicubic_small.safetensors", run.ErrLines[0]);
    }

    [Fact]
    public void An_unknown_option_is_a_usage_error()
    {
        var run = Cli.Run("downscale", TestPaths.Image("butterfly.png"), "-o", dir.File("lr.png"), "--model", model, "--frobnicate");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--frobnicate", run.Err);
    }

    private static Image AssertSize(string path, int width, int height)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        var image = ImageFile.Read(path);
        Assert.Equal((width, height), (image.Width, image.Height));
        return image;
    }

    [Theory]
    [InlineData("downscale")]
    [InlineData("batch")]
    public void A_negative_tile_is_a_usage_error(string verb)
    {
        using var dir = new TempDir();
        string[] places = verb == "batch" ? [TestPaths.Fixtures, dir.Path] : [TestPaths.Image("bird.png"), "-o", dir.File("lr.png")];
        var run = Cli.Run([verb, .. places, "--tile", "-8"]);
        Assert.Equal(2, run.ExitCode);   // a usage error
        Assert.Contains("--tile must be ≥ 0", run.Err);
    }
}
