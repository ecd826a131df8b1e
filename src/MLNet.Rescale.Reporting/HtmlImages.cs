using System.Globalization;
using System.Net;
using System.Text;
using MLNet.Rescale.Imaging;

namespace MLNet.Rescale.Reporting;

/// <summary>A square window of an image, in pixels.</summary>
/// <param name="X">Left column.</param>
/// <param name="Y">Top row.</param>
/// <param name="Size">Side length.</param>
public readonly record struct CropRegion(int X, int Y, int Size)
{
    /// <summary>This window cut out of <paramref name="image"/>.</summary>
    public Image Apply(Image image) => image.Crop(X, Y, Size, Size);
}

/// <summary>
/// Images as self-contained HTML: PNG data URIs, nearest-neighbour zoom for inspecting pixels, captioned figures
/// side by side, amplified differences, and the most detailed window of an image (where rescalers differ most).
/// Used by the HTML report of <c>rescale eval --report</c> and by the notebooks (<c>display(HTML(...))</c>).
/// </summary>
public static class HtmlImages
{
    /// <summary>A <c>data:image/png;base64,…</c> URI of the image (8-bit PNG), magnified <paramref name="zoom"/>× with nearest neighbour.</summary>
    public static string DataUri(Image image, int zoom = 1)
    {
        var png = ImageFile.Encode(Nearest(image, zoom), ImageFormat.Png, new ImageWriteOptions { PngBitDepth = 8 });
        return "data:image/png;base64," + Convert.ToBase64String(png);
    }

    /// <summary>The image magnified by an integer <paramref name="factor"/>, each pixel a factor × factor block (no smoothing).</summary>
    public static Image Nearest(Image image, int factor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(factor, 1);
        if (factor == 1) return image;
        int w = image.Width, h = image.Height, ow = w * factor, oh = h * factor;
        var dst = new float[image.Channels * ow * oh];
        for (int c = 0; c < image.Channels; c++)
        {
            var plane = image.GetChannel(c);
            for (int y = 0; y < oh; y++)
            {
                int src = (y / factor) * w, row = (c * oh + y) * ow;
                for (int x = 0; x < ow; x++) dst[row + x] = plane[src + x / factor];
            }
        }
        return new Image(ow, oh, image.Channels, dst, image.BitDepth);
    }

    /// <summary>
    /// The signed difference <c>0.5 + gain·(a − b)</c> per channel, clipped to [0, 1]: mid-grey where the images agree,
    /// brighter or darker where <paramref name="a"/> is above or below <paramref name="b"/> (e.g. an HCD perturbation).
    /// Without a <paramref name="gain"/> the largest difference is stretched to full black or white (<see cref="FullRangeGain"/>).
    /// </summary>
    public static Image Difference(Image a, Image b, double? gain = null)
    {
        if (a.Width != b.Width || a.Height != b.Height || a.Channels != b.Channels)
            throw new ArgumentException($"cannot subtract a {b.Width}×{b.Height}×{b.Channels} image from a {a.Width}×{a.Height}×{a.Channels} one");
        double g = gain ?? FullRangeGain(a, b);
        var d = new float[a.Data.Length];
        for (int i = 0; i < d.Length; i++) d[i] = (float)Math.Clamp(0.5 + g * (a.Data[i] - b.Data[i]), 0, 1);
        return new Image(a.Width, a.Height, a.Channels, d);
    }

    /// <summary>The gain that maps the largest |a − b| to ±0.5 (1 when the images are equal).</summary>
    public static double FullRangeGain(Image a, Image b)
    {
        double max = 0;
        for (int i = 0; i < Math.Min(a.Data.Length, b.Data.Length); i++) max = Math.Max(max, Math.Abs(a.Data[i] - b.Data[i]));
        return max > 0 ? 0.5 / max : 1;
    }

    /// <summary>
    /// The <paramref name="size"/>×<paramref name="size"/> window (clamped to the image) with the most luma detail:
    /// the largest sum of absolute horizontal and vertical luma differences, found with a summed-area table.
    /// Ties keep the top-most, then left-most window.
    /// </summary>
    public static CropRegion MostDetailed(Image image, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        int w = image.Width, h = image.Height, k = Math.Min(size, Math.Min(w, h));
        var rgb = image.Channels >= 3 ? image : image.ToRgb();
        var luma = ColorSpace.LumaPlane(rgb, quantize8: false);
        // sat[(y+1)*(w+1) + x+1] = detail summed over [0..y] × [0..x]; a pixel's detail is its difference to the right and below.
        var sat = new double[(w + 1) * (h + 1)];
        for (int y = 0; y < h; y++)
        {
            double rowSum = 0;
            for (int x = 0; x < w; x++)
            {
                double v = luma[y * w + x], detail = 0;
                if (x + 1 < w) detail += Math.Abs(luma[y * w + x + 1] - v);
                if (y + 1 < h) detail += Math.Abs(luma[(y + 1) * w + x] - v);
                rowSum += detail;
                sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1] + rowSum;
            }
        }
        double best = double.NegativeInfinity;
        var region = new CropRegion(0, 0, k);
        for (int y = 0; y + k <= h; y++)
            for (int x = 0; x + k <= w; x++)
            {
                double sum = sat[(y + k) * (w + 1) + x + k] - sat[y * (w + 1) + x + k] - sat[(y + k) * (w + 1) + x] + sat[y * (w + 1) + x];
                if (sum > best) (best, region) = (sum, new CropRegion(x, y, k));
            }
        return region;
    }

    /// <summary>
    /// An HTML figure: the image (zoomed <paramref name="zoom"/>× with nearest neighbour) over a caption, with inline
    /// styles only, so it renders the same in a notebook output and in a standalone page.
    /// </summary>
    public static string Figure(Image image, string caption, int zoom = 1, string? detail = null)
    {
        var sb = new StringBuilder();
        sb.Append("<figure style=\"margin:0 8px 8px 0;display:inline-block;vertical-align:top;text-align:center\">");
        sb.Append(CultureInfo.InvariantCulture, $"<img src=\"{DataUri(image, zoom)}\" width=\"{image.Width * zoom}\" height=\"{image.Height * zoom}\" alt=\"{Encode(caption)}\" style=\"display:block\">");
        sb.Append("<figcaption style=\"font:12px sans-serif\">").Append(Encode(caption));
        if (detail is not null) sb.Append("<br><span style=\"color:#555\">").Append(Encode(detail)).Append("</span>");
        return sb.Append("</figcaption></figure>").ToString();
    }

    /// <summary>Captioned images side by side (wrapping on narrow screens), each zoomed <paramref name="zoom"/>×.</summary>
    public static string Row(IEnumerable<(string Caption, Image Image)> panels, int zoom = 1) =>
        "<div style=\"display:flex;flex-wrap:wrap;align-items:flex-start\">" +
        string.Concat(panels.Select(p => Figure(p.Image, p.Caption, zoom))) + "</div>";

    /// <summary>Text escaped for HTML content and attribute values.</summary>
    public static string Encode(string text) => WebUtility.HtmlEncode(text);
}
