namespace MLNet.Rescale.Imaging;

/// <summary>
/// PSNR and SSIM exactly as the image-rescaling papers' evaluation code computes them (BasicSR / MATLAB):
/// samples on the 0..255 scale in float64, an optional border crop, optional BT.601 luma
/// (<see cref="ColorSpace.Luma"/>, not rounded), SSIM with an 11×11 Gaussian window (σ = 1.5) over the
/// valid region, C1 = (0.01·255)², C2 = (0.03·255)², averaged over channels.
/// </summary>
public static class Metrics
{
    private const int Window = 11;
    private const double Sigma = 1.5;
    private const double C1 = 0.01 * 255 * (0.01 * 255);
    private const double C2 = 0.03 * 255 * (0.03 * 255);

    /// <summary>PSNR in dB between two images of the same shape; +∞ when they are identical.</summary>
    /// <param name="a">First image, samples in [0, 1].</param>
    /// <param name="b">Second image, same size and channels.</param>
    /// <param name="cropBorder">Pixels removed from each side before scoring (the scale factor, by convention).</param>
    /// <param name="yOnly">Score the BT.601 luma of RGB images instead of all channels.</param>
    /// <param name="quantize8">Round samples to 8-bit values first, as the reference does when it saves and reloads 8-bit images.</param>
    public static double Psnr(Image a, Image b, int cropBorder = 0, bool yOnly = false, bool quantize8 = true)
    {
        var (pa, pb, c, h, w) = Prepare(a, b, cropBorder, yOnly, quantize8);
        return Psnr(pa, pb, c, h, w, 0);
    }

    /// <summary>Mean SSIM between two images of the same shape (mean over channels when not <paramref name="yOnly"/>).</summary>
    /// <param name="a">First image, samples in [0, 1].</param>
    /// <param name="b">Second image, same size and channels.</param>
    /// <param name="cropBorder">Pixels removed from each side before scoring.</param>
    /// <param name="yOnly">Score the BT.601 luma of RGB images instead of all channels.</param>
    /// <param name="quantize8">Round samples to 8-bit values first.</param>
    public static double Ssim(Image a, Image b, int cropBorder = 0, bool yOnly = false, bool quantize8 = true)
    {
        var (pa, pb, c, h, w) = Prepare(a, b, cropBorder, yOnly, quantize8);
        return Ssim(pa, pb, c, h, w, 0);
    }

    /// <summary>PSNR on raw samples in [0, 255]: planar CHW, or interleaved HWC when <paramref name="interleaved"/>.</summary>
    /// <param name="a">First image samples.</param>
    /// <param name="b">Second image samples.</param>
    /// <param name="channels">Channel count.</param>
    /// <param name="height">Height.</param>
    /// <param name="width">Width.</param>
    /// <param name="cropBorder">Pixels removed from each side.</param>
    /// <param name="interleaved">True for HWC layout, false for CHW.</param>
    public static double Psnr(ReadOnlySpan<double> a, ReadOnlySpan<double> b, int channels, int height, int width,
        int cropBorder, bool interleaved = false)
    {
        double[] pa = Planar(a, channels, height, width, cropBorder, interleaved, out int h, out int w);
        double[] pb = Planar(b, channels, height, width, cropBorder, interleaved, out _, out _);
        double sum = 0;
        for (int i = 0; i < pa.Length; i++)
        {
            double d = pa[i] - pb[i];
            sum += d * d;
        }
        double mse = sum / ((double)channels * h * w);
        return mse == 0 ? double.PositiveInfinity : 10.0 * Math.Log10(255.0 * 255.0 / mse);
    }

    /// <summary>Mean SSIM on raw samples in [0, 255]: planar CHW, or interleaved HWC when <paramref name="interleaved"/>.</summary>
    /// <param name="a">First image samples.</param>
    /// <param name="b">Second image samples.</param>
    /// <param name="channels">Channel count.</param>
    /// <param name="height">Height.</param>
    /// <param name="width">Width.</param>
    /// <param name="cropBorder">Pixels removed from each side.</param>
    /// <param name="interleaved">True for HWC layout, false for CHW.</param>
    public static double Ssim(ReadOnlySpan<double> a, ReadOnlySpan<double> b, int channels, int height, int width,
        int cropBorder, bool interleaved = false)
    {
        double[] pa = Planar(a, channels, height, width, cropBorder, interleaved, out int h, out int w);
        double[] pb = Planar(b, channels, height, width, cropBorder, interleaved, out _, out _);
        if (h < Window || w < Window)
            throw new ArgumentException($"SSIM needs at least {Window}×{Window} pixels after cropping, got {w}×{h}");
        double total = 0;
        for (int c = 0; c < channels; c++)
            total += SsimPlane(pa.AsSpan(c * h * w, h * w), pb.AsSpan(c * h * w, h * w), h, w);
        return total / channels;
    }

    private static (double[] A, double[] B, int C, int H, int W) Prepare(Image a, Image b, int crop, bool yOnly, bool quantize8)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Width != b.Width || a.Height != b.Height || a.Channels != b.Channels)
            throw new ArgumentException($"images differ in shape: {a.Width}×{a.Height}×{a.Channels} vs {b.Width}×{b.Height}×{b.Channels}");
        if (a.HasAlpha)
            throw new ArgumentException("metrics are defined on colour only; call SplitAlpha() and score the alpha separately if needed");
        double[] pa, pb;
        int c;
        if (yOnly && a.Channels == 3)
        {
            // Luma from the (8-bit) RGB values scaled to [0, 1], kept unrounded on the 0..255 scale,
            // as BasicSR's bgr2ycbcr(img / 255., y_only=True) * 255 does.
            pa = ColorSpace.LumaPlane(a, quantize8);
            pb = ColorSpace.LumaPlane(b, quantize8);
            c = 1;
        }
        else
        {
            pa = Scaled(a.Data, quantize8);
            pb = Scaled(b.Data, quantize8);
            c = a.Channels;
        }
        ValidateCrop(crop, a.Height, a.Width);
        if (crop == 0) return (pa, pb, c, a.Height, a.Width);
        double[] ca = Planar(pa, c, a.Height, a.Width, crop, false, out int h, out int w);
        double[] cb = Planar(pb, c, a.Height, a.Width, crop, false, out _, out _);
        return (ca, cb, c, h, w);
    }

    private static double[] Scaled(float[] data, bool quantize8)
    {
        var r = new double[data.Length];
        for (int i = 0; i < r.Length; i++) r[i] = quantize8 ? Image.To8(data[i]) : data[i] * 255.0;
        return r;
    }

    private static void ValidateCrop(int crop, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(crop);
        if (2L * crop >= height || 2L * crop >= width)
            throw new ArgumentOutOfRangeException(nameof(crop), crop, $"cropping {crop} pixels from each side leaves nothing of a {width}×{height} image");
    }

    // Copies to planar CHW and removes the border in one pass.
    private static double[] Planar(ReadOnlySpan<double> src, int c, int h, int w, int crop, bool interleaved, out int oh, out int ow)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(c, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(h, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(w, 1);
        if (src.Length != (long)c * h * w)
            throw new ArgumentException($"got {src.Length} samples, expected {c}×{h}×{w} = {(long)c * h * w}");
        ValidateCrop(crop, h, w);
        oh = h - 2 * crop;
        ow = w - 2 * crop;
        var dst = new double[c * oh * ow];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                {
                    int sy = y + crop, sx = x + crop;
                    dst[(ch * oh + y) * ow + x] = interleaved ? src[(sy * w + sx) * c + ch] : src[(ch * h + sy) * w + sx];
                }
        return dst;
    }

    private static readonly double[] Kernel1D = GaussianKernel();

    // cv2.getGaussianKernel(11, 1.5): exp(-(i-5)²/(2σ²)) normalised to sum 1; the 2-D window is its outer product.
    private static double[] GaussianKernel()
    {
        var k = new double[Window];
        double sum = 0;
        for (int i = 0; i < Window; i++)
        {
            double x = i - (Window - 1) / 2.0;
            k[i] = Math.Exp(-x * x / (2 * Sigma * Sigma));
            sum += k[i];
        }
        for (int i = 0; i < Window; i++) k[i] /= sum;
        return k;
    }

    private static double SsimPlane(ReadOnlySpan<double> x, ReadOnlySpan<double> y, int h, int w)
    {
        int n = h * w;
        var xx = new double[n];
        var yy = new double[n];
        var xy = new double[n];
        for (int i = 0; i < n; i++)
        {
            xx[i] = x[i] * x[i];
            yy[i] = y[i] * y[i];
            xy[i] = x[i] * y[i];
        }
        double[] mu1 = FilterValid(x, h, w), mu2 = FilterValid(y, h, w);
        double[] s11 = FilterValid(xx, h, w), s22 = FilterValid(yy, h, w), s12 = FilterValid(xy, h, w);
        double sum = 0;
        for (int i = 0; i < mu1.Length; i++)
        {
            double m1 = mu1[i], m2 = mu2[i];
            double m1Sq = m1 * m1, m2Sq = m2 * m2, m12 = m1 * m2;
            double v1 = s11[i] - m1Sq, v2 = s22[i] - m2Sq, v12 = s12[i] - m12;
            sum += (2 * m12 + C1) * (2 * v12 + C2) / ((m1Sq + m2Sq + C1) * (v1 + v2 + C2));
        }
        return sum / mu1.Length;
    }

    // Separable Gaussian filter over the 'valid' region: output (h - 10) × (w - 10).
    private static double[] FilterValid(ReadOnlySpan<double> src, int h, int w)
    {
        int oh = h - Window + 1, ow = w - Window + 1;
        var tmp = new double[h * ow];
        ReadOnlySpan<double> k = Kernel1D;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < ow; x++)
            {
                double acc = 0;
                for (int t = 0; t < Window; t++) acc += k[t] * src[y * w + x + t];
                tmp[y * ow + x] = acc;
            }
        var dst = new double[oh * ow];
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
            {
                double acc = 0;
                for (int t = 0; t < Window; t++) acc += k[t] * tmp[(y + t) * ow + x];
                dst[y * ow + x] = acc;
            }
        return dst;
    }
}
