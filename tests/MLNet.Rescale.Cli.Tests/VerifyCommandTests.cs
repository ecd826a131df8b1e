using MLNet.Rescale.IO;
using static TorchSharp.torch;

namespace MLNet.Rescale.Cli.Tests;

public class VerifyCommandTests
{
    [Fact]
    public void Fixture_vectors_pass_and_report_the_worst_error()
    {
        var run = Cli.Run("verify",
            TestPaths.Conformance("irn_x2_small.safetensors"),
            TestPaths.Conformance("irn_x4_small.safetensors"),
            TestPaths.Conformance("sain_x2_small.safetensors"),
            TestPaths.Conformance("diffjpeg_small.safetensors"),
            TestPaths.Conformance("bicubic_small.safetensors"),
            TestPaths.Conformance("metrics_small.json"));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Empty(run.Err);
        Assert.DoesNotContain("FAIL", run.Out);
        foreach (var output in new[] { "io.forward", "io.inverse", "io.lr_quantized", "io.down_x2_hwc", "io.down_x3_hwc", "io.down_x4_hwc", "io.up_x2_hwc", "psnr_y", "ssim_y_crop2",
                     "io.forward_lr", "io.inverse_lr", "io.out_q30_d", "io.out_q75_r", "io.out_q90_d" })
            Assert.Contains(output, run.Out);
        var last = run.Out.TrimEnd().Split('\n')[^1];
        Assert.StartsWith("max_abs_error=", last);
        double worst = double.Parse(last["max_abs_error=".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(worst, 0, 1e-3);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("garbage header")]
    public void A_corrupted_vector_fails_with_one_line_naming_the_file(string damage)
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(TestPaths.Conformance("irn_x2_small.safetensors"));
        if (damage == "truncated") bytes = bytes[..(bytes.Length / 2)];
        else bytes.AsSpan(8, 16).Fill((byte)'#');
        var path = dir.File("corrupt_irn.safetensors");
        File.WriteAllBytes(path, bytes);

        var run = Cli.Run("verify", path);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Single(run.ErrLines);
        Assert.Contains("corrupt_irn.safetensors", run.ErrLines[0]);
        Assert.DoesNotContain("   at ", run.Err);
    }

    [Fact]
    public void A_missing_vector_fails_naming_the_file()
    {
        var run = Cli.Run("verify", "/nonexistent/where.safetensors");
        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrLines);
        Assert.Contains("/nonexistent/where.safetensors", run.ErrLines[0]);
    }

    /// <summary>A well-formed vector of a model this version has no runner for.</summary>
    private static string UnknownModelVector(TempDir dir)
    {
        var path = dir.File("hcd_x2_small.safetensors");
        using var scope = NewDisposeScope();
        SafetensorsFile.Write(path, [new("io.hr", zeros(1, 3, 4, 4))], [new("model", "HCD")]);
        return path;
    }

    [Fact]
    public void Vectors_without_a_runner_yet_exit_2_and_say_so()
    {
        using var dir = new TempDir();
        var run = Cli.Run("verify", UnknownModelVector(dir), TestPaths.Conformance("diffjpeg_small.safetensors"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("PASS", run.Out);
        Assert.Contains("not implemented yet", run.Out);
        Assert.DoesNotContain("   at ", run.Out + run.Err);
    }

    [Fact]
    public void A_failure_outranks_not_implemented()
    {
        using var dir = new TempDir();
        var path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        var run = Cli.Run("verify", UnknownModelVector(dir), path);
        Assert.Equal(1, run.ExitCode);
    }
}
