using MLNet.Rescale.Compression;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using TorchSharp;
using MLNet.Rescale.Tests.Shared;
using Xunit;
using static MLNet.Rescale.Tests.TorchTestUtil;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

public class DiffJpegTests
{
    [Fact]
    public void DifferentiableRoundingPassesAGradientToTheInput()
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(1);
        var x = Uniform([1, 3, 16, 32], 0.2, 0.8, gen).requires_grad_();
        var target = rand([1, 3, 16, 32], generator: gen);
        (new DiffJpeg(50).forward(x) - target).square().sum().backward();
        var g = x.grad!;
        Assert.True(g.isfinite().to(float32).min().ToDouble() == 1, "gradient has NaN or infinity");
        Assert.True(g.abs().gt(0).to(float32).mean().ToDouble() > 0.9, "most pixels should receive a gradient");
    }

    [Fact]
    public void DifferentiableRoundingGradientMatchesFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(2);
        // Float64, values away from the clamp at 0 and 255, so the function is smooth around x.
        var x = Uniform([1, 3, 16, 16], 0.3, 0.7, gen, ScalarType.Float64).requires_grad_();
        var weights = randn([1, 3, 16, 16], float64, generator: gen);
        var jpeg = new DiffJpeg(60);
        (jpeg.forward(x) * weights).sum().backward();
        var direction = randn([1, 3, 16, 16], float64, generator: gen);
        double analytic = (x.grad! * direction).sum().ToDouble();
        double numeric;
        using (no_grad())
        {
            const double eps = 1e-6;
            numeric = ((jpeg.forward(x + direction * eps) * weights).sum().ToDouble() - (jpeg.forward(x - direction * eps) * weights).sum().ToDouble()) / (2 * eps);
        }
        Assert.True(Math.Abs(analytic - numeric) <= 1e-5 * Math.Max(1, Math.Abs(numeric)), $"autograd {analytic} vs finite difference {numeric}");
    }

    [Fact]
    public void HardRoundingHasNoGradientThroughQuantization()
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(3);
        var x = Uniform([1, 3, 16, 16], 0.2, 0.8, gen).requires_grad_();
        new DiffJpeg(50, JpegRounding.Hard).forward(x).sum().backward();
        Assert.Equal(0, x.grad!.abs().max().ToDouble());
    }

    [Fact]
    public void HardRoundingAtQuality100IsCloseToIdentity()
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(4);
        // Colour constant on every 2×2 cell, so 4:2:0 loses nothing and only the unit-step rounding of the DCT
        // coefficients remains (an orthonormal DCT: about ±0.3 grey levels per pixel).
        var cells = rand([2, 3, 16, 24], generator: gen);
        var x = nn.functional.interpolate(cells, size: [32, 48], mode: InterpolationMode.Nearest);
        var y = new DiffJpeg(100, JpegRounding.Hard).forward(x);
        var err = (y - x).abs() * 255;
        Assert.True(err.max().ToDouble() < 2.5, $"max error {err.max().ToDouble():f3} grey levels");
        Assert.True(err.mean().ToDouble() < 0.5, $"mean error {err.mean().ToDouble():f3} grey levels");
        // Q = 100 makes every quantization step 1 (the clamp keeps it from being 0).
        Assert.All(DiffJpeg.ScaledTable(DiffJpeg.LumaTable, 100), s => Assert.Equal(1f, s));
    }

    [Fact]
    public void HardRoundingBehavesLikeTheRealCodec()
    {
        using var scope = NewDisposeScope();
        var image = ImageFile.Read(TestPaths.Image("bird.png"));
        var x = ImageTensors.ToTensor(image);
        foreach (int quality in new[] { 10, 30, 75, 90 })
        {
            var simulated = new DiffJpeg(quality, JpegRounding.Hard).forward(x);
            var real = ImageTensors.ToTensor(Jpeg.RoundTrip(image, quality));
            double simToReal = Psnr(simulated, real), realToInput = Psnr(real, x), simToInput = Psnr(simulated, x);
            // The simulator is JPEG up to libjpeg's integer tables, its DCT and its smooth chroma upsampling (the
            // simulator repeats chroma pixels; that alone keeps the two ~38 dB apart on this image). So it loses about
            // what the codec loses, and at low and medium qualities it is far closer to the codec's output than
            // the codec's output is to the original.
            Assert.True(Math.Abs(simToInput - realToInput) < 2.5, $"Q{quality}: simulated {simToInput:f2} dB, real {realToInput:f2} dB from the input");
            Assert.True(simToReal > 36, $"Q{quality}: simulated vs real {simToReal:f2} dB");
            if (quality <= 75)
                Assert.True(simToReal > realToInput + 3, $"Q{quality}: simulated vs real {simToReal:f2} dB, real vs input {realToInput:f2} dB");
        }
    }

    [Theory]
    [InlineData(21, 37)]
    [InlineData(8, 8)]
    [InlineData(17, 16)]
    public void SizesNotMultipleOf16ArePaddedByTheEdgeAndCroppedBack(int h, int w)
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(5);
        var x = rand([1, 3, h, w], generator: gen);
        var jpeg = new DiffJpeg(75, JpegRounding.Hard);
        var y = jpeg.forward(x);
        Assert.Equal(x.shape, y.shape);
        int ph = (h + 15) / 16 * 16, pw = (w + 15) / 16 * 16;
        var padded = jpeg.forward(nn.functional.pad(x, [0, pw - w, 0, ph - h], PaddingModes.Replicate)).narrow(2, 0, h).narrow(3, 0, w);
        Assert.Equal(0, (y - padded).abs().max().ToDouble());
    }

    [Fact]
    public void QualityFactorAndTables()
    {
        Assert.Equal(50.0 / 30, DiffJpeg.QualityFactor(30), 12);
        Assert.Equal(1.0, DiffJpeg.QualityFactor(50), 12);
        Assert.Equal(0.5, DiffJpeg.QualityFactor(75), 12);
        // Not floored: 11 · 50/30 stays fractional, as the reference; the clamp only acts at the extremes.
        Assert.Equal(11f * (float)(50.0 / 30), DiffJpeg.ScaledTable(DiffJpeg.LumaTable, 30)[1]);
        Assert.Equal(255f, DiffJpeg.ScaledTable(DiffJpeg.ChromaTable, 1)[63]);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiffJpeg(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiffJpeg(101));
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => new DiffJpeg(50).forward(zeros([1, 1, 16, 16])));
    }

    private static double Psnr(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        double mse = (a.clamp(0, 1) - b.clamp(0, 1)).square().mean().ToDouble();
        return 10 * Math.Log10(1 / mse);
    }
}
