using System.Diagnostics;
using Xunit.Abstractions;

namespace MLNet.Rescale.Imaging.Tests;

public class ResizeTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("io.down_x2_hwc", 1.0 / 2)]
    [InlineData("io.down_x3_hwc", 1.0 / 3)]
    [InlineData("io.down_x4_hwc", 1.0 / 4)]
    [InlineData("io.up_x2_hwc", 2.0)]
    public void Bicubic_matches_conformance_vectors(string name, double scale)
    {
        var t = SafeTensors.Read(Fixtures.Conformance("bicubic_small.safetensors"));
        var (inShape, inHwc) = t["io.input_hwc"];
        var (outShape, expected) = t[name];
        int h = inShape[0], w = inShape[1], c = inShape[2];

        float[] chw = SafeTensors.HwcToChw(inHwc, h, w, c);
        float[] got = Resize.BicubicScale(chw, c, h, w, scale, out int oh, out int ow);
        Assert.Equal(outShape[0], oh);
        Assert.Equal(outShape[1], ow);

        double maxErr = 0;
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
                for (int k = 0; k < c; k++)
                    maxErr = Math.Max(maxErr, Math.Abs(got[(k * oh + y) * ow + x] - expected[(y * ow + x) * c + k]));
        output.WriteLine($"{name}: {h}x{w} -> {oh}x{ow}, max |error| = {maxErr:E3}");
        Assert.True(maxErr <= 1e-5, $"{name}: max error {maxErr:E3} > 1e-5");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Butterfly_LR_within_one_gray_level_of_matlab(int scale)
    {
        Image hr = ImageFile.Read(Fixtures.Image("butterfly.png")).ModCrop(scale);
        Image matlab = ImageFile.Read(Fixtures.Image($"butterfly_LRx{scale}_matlab.png"));
        var (worstFloat, countFloat) = GrayLevelDifference(Resize.BicubicScale(hr, 1.0 / scale), matlab);
        var (worst, count) = GrayLevelDifference(Resize.BicubicScaleUint8(hr, 1.0 / scale), matlab);
        output.WriteLine($"butterfly x{scale}: float64 path max {worstFloat} ({countFloat} samples differ), " +
                         $"uint8 path max {worst} ({count} samples differ)");
        Assert.True(worst <= 1, $"uint8 path: max difference {worst} gray levels");
        // The float path skips MATLAB's rounding between the two passes, so it may be one level further off.
        Assert.True(worstFloat <= 2, $"float path: max difference {worstFloat} gray levels");
    }

    [FactNeedsDataset("Set5")]
    public void Set5_LR_within_one_gray_level_of_matlab()
    {
        string set5 = TestPaths.SharedDataset("Set5");
        string[] files = Directory.GetFiles(set5, "*.png").OrderBy(f => f).ToArray();
        Assert.Equal(5, files.Length);
        foreach (int scale in new[] { 2, 4 })
            foreach (string file in files)
            {
                string stem = Path.GetFileNameWithoutExtension(file);
                string lrPath = Path.Combine(TestPaths.SharedDataset("Set5_LR_bicubic"), $"X{scale}", $"{stem}x{scale}.png");
                Image hr = ImageFile.Read(file).ModCrop(scale);
                Image matlab = ImageFile.Read(lrPath);
                var (worstFloat, countFloat) = GrayLevelDifference(Resize.BicubicScale(hr, 1.0 / scale), matlab);
                var (worst, count) = GrayLevelDifference(Resize.BicubicScaleUint8(hr, 1.0 / scale), matlab);
                output.WriteLine($"{stem} x{scale}: float64 path max {worstFloat} ({countFloat} samples differ), " +
                                 $"uint8 path max {worst} ({count} samples differ)");
                Assert.True(worst <= 1, $"{stem} x{scale}: uint8 path max difference {worst} gray levels");
                Assert.True(worstFloat <= 2, $"{stem} x{scale}: float path max difference {worstFloat} gray levels");
            }
    }

    [Fact]
    public void Size_overload_uses_out_over_in_and_equal_scale_matches_scale_overload()
    {
        var rnd = new Random(1);
        var img = new Image(40, 24, 3);
        for (int i = 0; i < img.Data.Length; i++) img.Data[i] = (float)rnd.NextDouble();
        Image a = Resize.Bicubic(img, 20, 12);
        Image b = Resize.BicubicScale(img, 0.5);
        Assert.Equal(a.Data, b.Data);
        Image c = Resize.Bicubic(img, 30, 12);   // unequal scales: width 0.75, height 0.5
        Assert.Equal((30, 12, 3), (c.Width, c.Height, c.Channels));
    }

    [Fact]
    public void Constant_image_stays_constant_and_output_is_not_clamped()
    {
        var flat = new Image(17, 13, 1);
        Array.Fill(flat.Data, 0.3f);
        foreach (double s in new[] { 0.5, 1.0 / 3, 2.0, 3.0 })
            Assert.All(Resize.BicubicScale(flat, s).Data, v => Assert.Equal(0.3f, v, 1e-6f));

        // A hard edge overshoots under the cubic kernel: MATLAB keeps values outside [0, 1] for doubles.
        var edge = new Image(8, 8, 1);
        for (int y = 0; y < 8; y++) for (int x = 4; x < 8; x++) edge.Data[y * 8 + x] = 1f;
        Image up = Resize.BicubicScale(edge, 2);
        Assert.True(up.Data.Max() > 1f && up.Data.Min() < 0f);
    }

    [Fact]
    public void Downscale_512_rgb_gives_the_scaled_sizes()
    {
        // Speed is a benchmark's business, never a test's (this test asserted < 200 ms and failed a CI run at 202 ms on
        // a slow day); the time is still printed for whoever reads the output.
        var img = new Image(512, 512, 3);
        var rnd = new Random(2);
        for (int i = 0; i < img.Data.Length; i++) img.Data[i] = (float)rnd.NextDouble();
        var sw = Stopwatch.StartNew();
        var half = Resize.BicubicScale(img, 0.5);
        var quarter = Resize.BicubicScale(img, 0.25);
        output.WriteLine($"512x512 RGB x2 + x4 downscale: {sw.Elapsed.TotalMilliseconds:F1} ms");
        Assert.Equal((256, 256, 3), (half.Width, half.Height, half.Channels));
        Assert.Equal((128, 128, 3), (quarter.Width, quarter.Height, quarter.Channels));
        Assert.All(quarter.Data, v => Assert.InRange(v, -0.2f, 1.2f)); // bicubic overshoot stays small on [0, 1] noise
    }

    [Fact]
    public void Rejects_bad_arguments()
    {
        Assert.Throws<ArgumentException>(() => Resize.Bicubic(new float[10], 1, 3, 3, 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Resize.BicubicScale(new Image(4, 4, 1), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Resize.Bicubic(new Image(4, 4, 1), 0, 2));
    }

    private static (int Max, int Count) GrayLevelDifference(Image ours, Image theirs)
    {
        Assert.Equal((theirs.Width, theirs.Height), (ours.Width, ours.Height));
        Image a = ours.Channels == theirs.Channels ? ours : ours.ToRgb();
        Image b = theirs.Channels == a.Channels ? theirs : theirs.ToRgb();
        byte[] pa = a.ToInterleaved8(), pb = b.ToInterleaved8();
        int worst = 0, count = 0;
        for (int i = 0; i < pa.Length; i++)
        {
            int d = Math.Abs(pa[i] - pb[i]);
            worst = Math.Max(worst, d);
            if (d != 0) count++;
        }
        return (worst, count);
    }
}
