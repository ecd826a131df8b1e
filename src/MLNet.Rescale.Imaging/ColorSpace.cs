namespace MLNet.Rescale.Imaging;

/// <summary>
/// BT.601 colour conversions as MATLAB's <c>rgb2ycbcr</c>/<c>ycbcr2rgb</c> define them (studio range:
/// Y in 16..235, Cb/Cr in 16..240 on the 0..255 scale), used by the super-resolution papers to score on luma.
/// </summary>
public static class ColorSpace
{
    /// <summary>Luma on the 0..255 scale: 16 + 65.481 R + 128.553 G + 24.966 B for R, G, B in [0, 1].</summary>
    /// <param name="r">Red in [0, 1].</param>
    /// <param name="g">Green in [0, 1].</param>
    /// <param name="b">Blue in [0, 1].</param>
    public static double Luma(double r, double g, double b) => 16.0 + 65.481 * r + 128.553 * g + 24.966 * b;

    /// <summary>
    /// The luma plane (H × W, row-major) on the 0..255 scale, not rounded, in float64. With
    /// <paramref name="quantize8"/> the RGB samples are first rounded to the 8-bit grid, as the reference
    /// evaluation reads 8-bit files.
    /// </summary>
    /// <param name="rgb">A 3- or 4-channel image (alpha ignored).</param>
    /// <param name="quantize8">Round RGB to 8-bit values first.</param>
    public static double[] LumaPlane(Image rgb, bool quantize8 = true)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        if (rgb.Channels < 3) throw new ArgumentException($"luma needs an RGB image, got {rgb.Channels} channel(s)", nameof(rgb));
        int n = rgb.PlaneSize;
        var y = new double[n];
        ReadOnlySpan<float> r = rgb.GetChannel(0), g = rgb.GetChannel(1), b = rgb.GetChannel(2);
        for (int p = 0; p < n; p++)
            y[p] = Luma(Sample(r[p], quantize8), Sample(g[p], quantize8), Sample(b[p], quantize8));
        return y;
    }

    /// <summary>Converts RGB in [0, 1] to YCbCr in [0, 1] (MATLAB rgb2ycbcr for double input). Alpha, if any, is dropped.</summary>
    /// <param name="rgb">A 3- or 4-channel image.</param>
    public static Image RgbToYCbCr(Image rgb)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        if (rgb.Channels < 3) throw new ArgumentException($"need an RGB image, got {rgb.Channels} channel(s)", nameof(rgb));
        int n = rgb.PlaneSize;
        var d = new float[3 * n];
        ReadOnlySpan<float> r = rgb.GetChannel(0), g = rgb.GetChannel(1), b = rgb.GetChannel(2);
        for (int p = 0; p < n; p++)
        {
            double R = r[p], G = g[p], B = b[p];
            d[p] = (float)(Luma(R, G, B) / 255.0);
            d[n + p] = (float)((128.0 - 37.797 * R - 74.203 * G + 112.0 * B) / 255.0);
            d[2 * n + p] = (float)((128.0 + 112.0 * R - 93.786 * G - 18.214 * B) / 255.0);
        }
        return new Image(rgb.Width, rgb.Height, 3, d, rgb.BitDepth);
    }

    /// <summary>Inverse of <see cref="RgbToYCbCr"/> (MATLAB ycbcr2rgb for double input); output not clamped.</summary>
    /// <param name="ycbcr">A 3-channel YCbCr image in [0, 1].</param>
    public static Image YCbCrToRgb(Image ycbcr)
    {
        ArgumentNullException.ThrowIfNull(ycbcr);
        if (ycbcr.Channels != 3) throw new ArgumentException($"need a 3-channel YCbCr image, got {ycbcr.Channels}", nameof(ycbcr));
        int n = ycbcr.PlaneSize;
        var d = new float[3 * n];
        ReadOnlySpan<double> inv = Inverse;
        for (int p = 0; p < n; p++)
        {
            // Back to the 0..255 scale, remove the offsets, apply the inverse matrix (result in [0, 1]).
            double y = ycbcr.Data[p] * 255.0 - 16.0, cb = ycbcr.Data[n + p] * 255.0 - 128.0, cr = ycbcr.Data[2 * n + p] * 255.0 - 128.0;
            for (int c = 0; c < 3; c++)
                d[c * n + p] = (float)(inv[3 * c] * y + inv[3 * c + 1] * cb + inv[3 * c + 2] * cr);
        }
        return new Image(ycbcr.Width, ycbcr.Height, 3, d, ycbcr.BitDepth);
    }

    private static readonly double[] Inverse = Invert3(
    [
        65.481, 128.553, 24.966,
        -37.797, -74.203, 112.0,
        112.0, -93.786, -18.214,
    ]);

    internal static double Sample(float v, bool quantize8) => quantize8 ? Image.To8(v) / 255.0 : v;

    private static double[] Invert3(double[] m)
    {
        double a = m[0], b = m[1], c = m[2], d = m[3], e = m[4], f = m[5], g = m[6], h = m[7], i = m[8];
        double det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
        return
        [
            (e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det,
            (f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det,
            (d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det,
        ];
    }
}
