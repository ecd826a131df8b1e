using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Data;

namespace MLNet.Rescale.ML.Tests;

/// <summary>
/// Pixels cross between ML.NET's MLImage (what LoadImages decodes with SkiaSharp: BGRA, premultiplied) and the networks'
/// Image exactly for opaque 8-bit images, checked against our own codecs' decode of the same files.
/// </summary>
[Collection(SmallImagesCollection.Name)]
public sealed class PixelTests(SmallImages small)
{
    private readonly MLContext ml = new(seed: 1);

    private List<Image> LoadWithMLNet(string folder)
    {
        var paths = ml.Rescaling().LoadImagePaths(folder);
        return ml.Transforms.LoadImages("Image", null, "ImagePath").Fit(paths).Transform(paths).ReadImages("Image");
    }

    [Fact]
    public void Opaque_RGB_and_grey_PNGs_load_through_MLImage_bit_exactly_and_go_back_unchanged()
    {
        string folder = Path.Combine(Path.GetDirectoryName(small.TempFile("x"))!, "pixels");
        Directory.CreateDirectory(folder);
        var rgb = ImageFile.Read(TestPaths.Image("butterfly.png"));
        var grey = new Image(rgb.Width, rgb.Height, 1, rgb.Data.AsSpan(rgb.PlaneSize, rgb.PlaneSize).ToArray()).Quantize8();
        ImageFile.Write(rgb, Path.Combine(folder, "a-rgb.png"));
        ImageFile.Write(grey, Path.Combine(folder, "b-grey.png"));
        var loaded = LoadWithMLNet(folder);

        Assert.Equal(3, loaded[0].Channels);
        Assert.Equal(rgb.Data, loaded[0].Data);
        Assert.Equal(1, loaded[1].Channels);   // B = G = R everywhere: one grey channel
        Assert.Equal(grey.Data, loaded[1].Data);
        foreach (var image in new[] { rgb, grey })
        {
            using var ml = image.ToMLImage();
            Assert.Equal(image.Data, ml.ToImage().Data);
        }
    }

    [Fact]
    public void Alpha_is_premultiplied_into_MLImage_and_recovered_to_the_precision_it_leaves()
    {
        var rgb = small.Images[0];
        var alphaPlane = Enumerable.Range(0, rgb.PlaneSize).Select(i => (i % 64) / 63f).ToArray();
        var rgba = Image.WithAlpha(rgb, new Image(64, 64, 1, alphaPlane)).Quantize8();
        using var image = rgba.ToMLImage();
        var back = image.ToImage();
        Assert.Equal(4, back.Channels);
        Assert.Equal(rgba.Data.AsSpan(3 * rgba.PlaneSize).ToArray(), back.Data.AsSpan(3 * back.PlaneSize).ToArray());   // alpha exact
        for (int p = 0; p < rgba.PlaneSize; p++)
        {
            float a = rgba.Data[3 * rgba.PlaneSize + p] * 255;
            for (int c = 0; c < 3; c++)
            {
                float expected = rgba.Data[c * rgba.PlaneSize + p], actual = back.Data[c * back.PlaneSize + p];
                if (a == 255) Assert.Equal(expected, actual);
                // Premultiplication rounds c·a/255 to a level: at most 127.5/a levels of colour are lost, plus the final rounding.
                else if (a > 0) Assert.True(Math.Abs(expected - actual) * 255 <= 127.5 / a + 0.5 + 1e-3, $"pixel {p} channel {c}: {expected} → {actual} at alpha {a}");
                else Assert.Equal(0f, actual);   // fully transparent: no colour survives premultiplication
            }
        }
    }

    [Fact]
    public void Charts_and_MLImages_use_one_SkiaSharp()
    {
        // ML.NET 6's MLImage and ScottPlot 5 both run on SkiaSharp 3: one copy in the process, no isolated load context.
        using var before = small.Images[0].ToMLImage();
        var png = Reporting.ChartRenderer.Render([new Reporting.Chart("t", "x", "y", [new Reporting.Series("s", [(1, 2), (2, 3)], "#1f77b4")])],
            Reporting.ChartFormat.Png, 200, 150);
        Assert.Equal((200, 150), (ImageFile.Decode(png).Width, ImageFile.Decode(png).Height));
        using var after = small.Images[1].ToMLImage();
        Assert.Equal(small.Images[0].Data, before.ToImage().Data);
        Assert.Equal(small.Images[1].Data, after.ToImage().Data);
        var skia = AppDomain.CurrentDomain.GetAssemblies().Where(a => a.GetName().Name == "SkiaSharp").ToList();
        Assert.Equal(3, Assert.Single(skia).GetName().Version!.Major);
        Assert.Equal(System.Runtime.Loader.AssemblyLoadContext.Default, System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(skia[0]));
    }

    [Fact]
    public void An_MLImage_of_another_pixel_format_is_refused()
    {
        using var rgba = MLImage.CreateFromPixels(2, 1, MLPixelFormat.Rgba32, new byte[] { 255, 0, 0, 255, 0, 0, 255, 255 });
        var image = rgba.ToImage();   // RGBA32 is read with its own channel order
        Assert.Equal([1f, 0f, 0f, 0f, 0f, 1f], image.Data);
    }
}
