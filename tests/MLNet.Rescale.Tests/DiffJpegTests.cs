using MLNet.Rescale.Compression;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Tensors;
using MLNet.Rescale.Tests.Shared;
using Xunit;

namespace MLNet.Rescale.Tests;

public class DiffJpegTests
{
    [Fact]
    public void DifferentiableRoundingPassesAGradientToTheInput()
    {
        using var scope = Torch.NewScope();
        using var gen = new Generator(1);
        var x = Tensor.Uniform([1, 3, 16, 32], 0.2, 0.8, gen).RequiresGrad_();
        var target = Tensor.Rand([1, 3, 16, 32], gen);
        (new DiffJpeg(50).Forward(x) - target).Square().Sum().Backward();
        var g = x.Grad!;
        Assert.True(g.IsFinite().To(DType.Float32).Min().Item() == 1, "gradient has NaN or infinity");
        Assert.True(g.Abs().Gt(0).To(DType.Float32).Mean().Item() > 0.9, "most pixels should receive a gradient");
    }

    [Fact]
    public void DifferentiableRoundingGradientMatchesFiniteDifferences()
    {
        using var scope = Torch.NewScope();
        using var gen = new Generator(2);
        // Float64, values away from the clamp at 0 and 255, so the function is smooth around x.
        var x = Tensor.Uniform([1, 3, 16, 16], 0.3, 0.7, gen, DType.Float64).RequiresGrad_();
        var weights = Tensor.Randn([1, 3, 16, 16], gen, DType.Float64);
        var jpeg = new DiffJpeg(60);
        (jpeg.Forward(x) * weights).Sum().Backward();
        var direction = Tensor.Randn([1, 3, 16, 16], gen, DType.Float64);
        double analytic = (x.Grad! * direction).Sum().Item();
        double numeric;
        using (Torch.NoGrad())
        {
            const double eps = 1e-6;
            numeric = ((jpeg.Forward(x + direction * eps) * weights).Sum().Item() - (jpeg.Forward(x - direction * eps) * weights).Sum().Item()) / (2 * eps);
        }
        Assert.True(Math.Abs(analytic - numeric) <= 1e-5 * Math.Max(1, Math.Abs(numeric)), $"autograd {analytic} vs finite difference {numeric}");
    }

    [Fact]
    public void HardRoundingHasNoGradientThroughQuantization()
    {
        using var scope = Torch.NewScope();
        using var gen = new Generator(3);
        var x = Tensor.Uniform([1, 3, 16, 16], 0.2, 0.8, gen).RequiresGrad_();
        new DiffJpeg(50, JpegRounding.Hard).Forward(x).Sum().Backward();
        Assert.Equal(0, x.Grad!.Abs().Max().Item());
    }

    [Fact]
    public void HardRoundingAtQuality100IsCloseToIdentity()
    {
        using var scope = Torch.NewScope();
        using var gen = new Generator(4);
        // Colour constant on every 2×2 cell, so 4:2:0 loses nothing and only the unit-step rounding of the DCT
        // coefficients remains (an orthonormal DCT: about ±0.3 grey levels per pixel).
        var cells = Tensor.Rand([2, 3, 16, 24], gen);
        var x = Functional.Interpolate(cells, 32, 48);
        var y = new DiffJpeg(100, JpegRounding.Hard).Forward(x);
        var err = (y - x).Abs() * 255;
        Assert.True(err.Max().Item() < 2.5, $"max error {err.Max().Item():f3} grey levels");
        Assert.True(err.Mean().Item() < 0.5, $"mean error {err.Mean().Item():f3} grey levels");
        // Q = 100 makes every quantization step 1 (the clamp keeps it from being 0).
        Assert.All(DiffJpeg.ScaledTable(DiffJpeg.LumaTable, 100), s => Assert.Equal(1f, s));
    }

    [Fact]
    public void HardRoundingBehavesLikeTheRealCodec()
    {
        using var scope = Torch.NewScope();
        var image = ImageFile.Read(TestPaths.Image("bird.png"));
        var x = ImageTensors.ToTensor(image);
        foreach (int quality in new[] { 10, 30, 75, 90 })
        {
            var simulated = new DiffJpeg(quality, JpegRounding.Hard).Forward(x);
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
        using var scope = Torch.NewScope();
        using var gen = new Generator(5);
        var x = Tensor.Rand([1, 3, h, w], gen);
        var jpeg = new DiffJpeg(75, JpegRounding.Hard);
        var y = jpeg.Forward(x);
        Assert.Equal(x.Shape, y.Shape);
        int ph = (h + 15) / 16 * 16, pw = (w + 15) / 16 * 16;
        var padded = jpeg.Forward(Functional.Pad(x, 0, pw - w, 0, ph - h, PadMode.Replicate)).Narrow(2, 0, h).Narrow(3, 0, w);
        Assert.Equal(0, (y - padded).Abs().Max().Item());
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
        using var scope = Torch.NewScope();
        Assert.Throws<ArgumentException>(() => new DiffJpeg(50).Forward(Tensor.Zeros([1, 1, 16, 16])));
    }

    private static double Psnr(Tensor a, Tensor b)
    {
        using var scope = Torch.NewScope();
        double mse = (a.Clamp(0, 1) - b.Clamp(0, 1)).Square().Mean().Item();
        return 10 * Math.Log10(1 / mse);
    }
}
