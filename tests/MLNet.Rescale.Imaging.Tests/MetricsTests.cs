using System.Text.Json;
using Xunit.Abstractions;

namespace MLNet.Rescale.Imaging.Tests;

public class MetricsTests(ITestOutputHelper output)
{
    private static (Image A, Image B, JsonElement Root, JsonDocument Doc) LoadVectors()
    {
        var doc = JsonDocument.Parse(File.ReadAllBytes(Fixtures.Conformance("metrics_small.json")));
        return (FromBgr(doc.RootElement.GetProperty("image_a_hwc_bgr_uint8")),
                FromBgr(doc.RootElement.GetProperty("image_b_hwc_bgr_uint8")), doc.RootElement, doc);
    }

    // Nested H×W×3 lists in BGR order -> RGB Image.
    private static Image FromBgr(JsonElement rows)
    {
        int h = rows.GetArrayLength(), w = rows[0].GetArrayLength();
        var hwc = new byte[h * w * 3];
        int y = 0;
        foreach (var row in rows.EnumerateArray())
        {
            int x = 0;
            foreach (var px in row.EnumerateArray())
            {
                for (int c = 0; c < 3; c++) hwc[(y * w + x) * 3 + (2 - c)] = (byte)px[c].GetInt32();
                x++;
            }
            y++;
        }
        return Image.FromInterleaved8(hwc, w, h, 3);
    }

    [Fact]
    public void Metrics_match_reference_vectors()
    {
        var (a, b, root, doc) = LoadVectors();
        using var _ = doc;
        var cases = new (string Key, double Got)[]
        {
            ("psnr_bgr", Metrics.Psnr(a, b)),
            ("psnr_y", Metrics.Psnr(a, b, 0, yOnly: true)),
            ("ssim_y", Metrics.Ssim(a, b, 0, yOnly: true)),
            ("psnr_y_crop2", Metrics.Psnr(a, b, 2, yOnly: true)),
            ("ssim_y_crop2", Metrics.Ssim(a, b, 2, yOnly: true)),
        };
        foreach (var (key, got) in cases)
        {
            double expected = root.GetProperty(key).GetDouble();
            double rel = Math.Abs(got - expected) / Math.Abs(expected);
            output.WriteLine($"{key}: got {got:R}, expected {expected:R}, relative error {rel:E2}");
            Assert.True(rel <= 1e-6, $"{key}: got {got:R}, expected {expected:R} (relative error {rel:E2})");
        }
    }

    [Fact]
    public void Y_is_unrounded_luma_which_is_what_the_reference_uses()
    {
        // Rounding Y to integers (MATLAB's uint8 path) gives a measurably different PSNR; the vectors
        // were produced without rounding, which is what Metrics does.
        var (a, b, root, doc) = LoadVectors();
        using var _ = doc;
        double[] ya = ColorSpace.LumaPlane(a).Select(v => Math.Round(v)).ToArray();
        double[] yb = ColorSpace.LumaPlane(b).Select(v => Math.Round(v)).ToArray();
        double rounded = Metrics.Psnr(ya, yb, 1, a.Height, a.Width, 0);
        double expected = root.GetProperty("psnr_y").GetDouble();
        output.WriteLine($"psnr_y with rounded Y: {rounded:R} (reference {expected:R})");
        Assert.True(Math.Abs(rounded - expected) / expected > 1e-6);
    }

    [Fact]
    public void Identical_images_give_infinite_psnr_and_unit_ssim()
    {
        Image img = ImageFile.Read(Fixtures.Image("butterfly.png"));
        Assert.Equal(double.PositiveInfinity, Metrics.Psnr(img, img.Clone()));
        Assert.Equal(double.PositiveInfinity, Metrics.Psnr(img, img.Clone(), 4, yOnly: true));
        Assert.Equal(1.0, Metrics.Ssim(img, img.Clone()), 12);
        Assert.Equal(1.0, Metrics.Ssim(img, img.Clone(), 4, yOnly: true), 12);
    }

    [Fact]
    public void Raw_overloads_accept_hwc_and_chw()
    {
        var (a, b, root, doc) = LoadVectors();
        using var _ = doc;
        double[] chwA = a.Data.Select(v => Math.Round(v * 255.0)).ToArray();
        double[] chwB = b.Data.Select(v => Math.Round(v * 255.0)).ToArray();
        double[] hwcA = a.ToInterleaved8().Select(v => (double)v).ToArray();
        double[] hwcB = b.ToInterleaved8().Select(v => (double)v).ToArray();
        double expected = root.GetProperty("psnr_bgr").GetDouble();
        Assert.Equal(expected, Metrics.Psnr(chwA, chwB, 3, a.Height, a.Width, 0), 9);
        Assert.Equal(expected, Metrics.Psnr(hwcA, hwcB, 3, a.Height, a.Width, 0, interleaved: true), 9);
        Assert.Equal(Metrics.Ssim(a, b), Metrics.Ssim(hwcA, hwcB, 3, a.Height, a.Width, 0, interleaved: true), 12);
    }

    [Fact]
    public void Color_conversions_round_trip()
    {
        var rnd = new Random(3);
        var img = new Image(5, 4, 3);
        for (int i = 0; i < img.Data.Length; i++) img.Data[i] = (float)rnd.NextDouble();
        Image ycc = ColorSpace.RgbToYCbCr(img);
        Image back = ColorSpace.YCbCrToRgb(ycc);
        for (int i = 0; i < img.Data.Length; i++) Assert.Equal(img.Data[i], back.Data[i], 1e-5f);
        Assert.Equal(16.0, ColorSpace.Luma(0, 0, 0), 12);
        Assert.Equal(235.0, ColorSpace.Luma(1, 1, 1), 12);
    }

    [Fact]
    public void Shape_mismatch_and_alpha_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Metrics.Psnr(new Image(4, 4, 3), new Image(4, 5, 3)));
        Assert.Throws<ArgumentException>(() => Metrics.Psnr(new Image(4, 4, 4), new Image(4, 4, 4)));
        Assert.Throws<ArgumentException>(() => Metrics.Ssim(new Image(8, 8, 1), new Image(8, 8, 1)));
    }
}
