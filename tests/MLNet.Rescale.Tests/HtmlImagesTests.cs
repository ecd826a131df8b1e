using MLNet.Rescale.Imaging;
using MLNet.Rescale.Reporting;
using Xunit;

namespace MLNet.Rescale.Tests;

public class HtmlImagesTests
{
    /// <summary>A flat grey RGB image with a checkerboard patch of side <paramref name="side"/> at (<paramref name="px"/>, <paramref name="py"/>).</summary>
    private static Image Flat(int w, int h, int px, int py, int side)
    {
        var image = new Image(w, h, 3);
        Array.Fill(image.Data, 0.5f);
        for (int c = 0; c < 3; c++)
            for (int y = py; y < py + side; y++)
                for (int x = px; x < px + side; x++)
                    image.GetChannel(c)[y * w + x] = (x + y) % 2 == 0 ? 0.1f : 0.9f;
        return image;
    }

    [Fact]
    public void The_most_detailed_window_covers_the_textured_patch()
    {
        var image = Flat(100, 80, 57, 31, 16);
        var region = HtmlImages.MostDetailed(image, 16);
        Assert.Equal(new CropRegion(57, 31, 16), region);
        // A window larger than the image is clamped to its shorter side.
        Assert.Equal(80, HtmlImages.MostDetailed(image, 500).Size);
    }

    [Fact]
    public void Nearest_zoom_repeats_every_pixel_in_a_block()
    {
        var image = new Image(2, 1, 1, [0.25f, 0.75f]);
        var zoomed = HtmlImages.Nearest(image, 3);
        Assert.Equal((6, 3), (zoomed.Width, zoomed.Height));
        for (int y = 0; y < 3; y++)
            Assert.Equal([0.25f, 0.25f, 0.25f, 0.75f, 0.75f, 0.75f], zoomed.Data.Skip(y * 6).Take(6).ToArray());
    }

    [Fact]
    public void A_data_uri_holds_the_zoomed_8_bit_png()
    {
        var image = Flat(8, 6, 2, 2, 3).Quantize8();
        const string prefix = "data:image/png;base64,";
        var uri = HtmlImages.DataUri(image, zoom: 2);
        Assert.StartsWith(prefix, uri);
        var decoded = ImageFile.Decode(Convert.FromBase64String(uri[prefix.Length..]));
        Assert.Equal(HtmlImages.Nearest(image, 2).Data, decoded.Data);
    }

    [Fact]
    public void The_difference_is_mid_grey_where_equal_and_stretched_to_full_range()
    {
        var a = new Image(3, 1, 1, [0.5f, 0.52f, 0.49f]);
        var b = new Image(3, 1, 1, [0.5f, 0.50f, 0.50f]);
        var d = HtmlImages.Difference(a, b);
        Assert.Equal(0.5f, d.Data[0]);
        Assert.Equal(1f, d.Data[1], 1e-5f);          // the largest difference maps to white
        Assert.Equal(0.25f, d.Data[2], 1e-4f);       // half as large, the other sign
        Assert.Throws<ArgumentException>(() => HtmlImages.Difference(a, new Image(2, 1, 1)));
    }

    [Fact]
    public void Captions_are_escaped()
    {
        var html = HtmlImages.Figure(new Image(2, 2, 3), "<b>x</b> & y", detail: "\"z\"");
        Assert.Contains("&lt;b&gt;x&lt;/b&gt; &amp; y", html);
        Assert.Contains("&quot;z&quot;", html);
        Assert.DoesNotContain("<b>", html);
    }
}
