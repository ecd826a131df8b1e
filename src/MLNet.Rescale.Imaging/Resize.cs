using System.Collections.Concurrent;

namespace MLNet.Rescale.Imaging;

/// <summary>
/// MATLAB-compatible bicubic <c>imresize</c>: Keys cubic kernel with a = -0.5, antialiasing when
/// downscaling, MATLAB's contribution tables with symmetric boundary handling, dimensions processed in
/// order of increasing scale (rows first on ties), arithmetic in float64, output float32 and not clamped.
/// </summary>
public static class Resize
{
    /// <summary>Resizes to an explicit output size; each dimension's scale is out/in, as MATLAB does for a size argument.</summary>
    /// <param name="src">Source image.</param>
    /// <param name="outW">Output width, positive.</param>
    /// <param name="outH">Output height, positive.</param>
    public static Image Bicubic(Image src, int outW, int outH)
    {
        ArgumentNullException.ThrowIfNull(src);
        float[] data = Bicubic(src.Data, src.Channels, src.Height, src.Width, outH, outW);
        return new Image(outW, outH, src.Channels, data, src.BitDepth);
    }

    /// <summary>
    /// Resizes by a scale factor (&lt; 1 shrinks): output size ceil(in × scale) and the kernel uses
    /// <paramref name="scale"/> itself, exactly like MATLAB's <c>imresize(img, scale, 'bicubic')</c>.
    /// </summary>
    /// <param name="src">Source image.</param>
    /// <param name="scale">Scale factor, positive.</param>
    public static Image BicubicScale(Image src, double scale)
    {
        ArgumentNullException.ThrowIfNull(src);
        float[] data = BicubicScale(src.Data, src.Channels, src.Height, src.Width, scale, out int outH, out int outW);
        return new Image(outW, outH, src.Channels, data, src.BitDepth);
    }

    /// <summary>
    /// Emulates MATLAB's <c>imresize(uint8Image, scale, 'bicubic')</c>, the way the published LR
    /// benchmark images were made: the input is taken as 8-bit values and, because MATLAB keeps the
    /// input class between its two 1-D passes, the intermediate and the final result are each rounded
    /// and saturated to 0..255. The result is 8-bit (samples on the k/255 grid).
    /// </summary>
    /// <param name="src">Source image (samples are rounded to 8-bit first).</param>
    /// <param name="scale">Scale factor, positive.</param>
    public static Image BicubicScaleUint8(Image src, double scale)
    {
        ArgumentNullException.ThrowIfNull(src);
        if (!(scale > 0) || double.IsInfinity(scale))
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "scale must be a positive finite number");
        int outH = OutputSize(src.Height, scale), outW = OutputSize(src.Width, scale);
        float[] data = Core(src.Data, src.Channels, src.Height, src.Width, outH, outW, scale, scale, uint8: true);
        return new Image(outW, outH, src.Channels, data, 8);
    }

    /// <summary>Resizes planar CHW float data to <paramref name="outH"/> × <paramref name="outW"/> (scale = out/in per dimension).</summary>
    /// <param name="chw">Planar samples, length c × h × w.</param>
    /// <param name="c">Channels (any positive count).</param>
    /// <param name="h">Input height.</param>
    /// <param name="w">Input width.</param>
    /// <param name="outH">Output height.</param>
    /// <param name="outW">Output width.</param>
    /// <returns>Planar samples, length c × outH × outW.</returns>
    public static float[] Bicubic(ReadOnlySpan<float> chw, int c, int h, int w, int outH, int outW)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outH, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outW, 1);
        return Core(chw, c, h, w, outH, outW, (double)outH / h, (double)outW / w);
    }

    /// <summary>Resizes planar CHW float data by a scale factor; output size ceil(in × scale).</summary>
    /// <param name="chw">Planar samples, length c × h × w.</param>
    /// <param name="c">Channels.</param>
    /// <param name="h">Input height.</param>
    /// <param name="w">Input width.</param>
    /// <param name="scale">Scale factor, positive.</param>
    /// <param name="outH">Output height.</param>
    /// <param name="outW">Output width.</param>
    public static float[] BicubicScale(ReadOnlySpan<float> chw, int c, int h, int w, double scale, out int outH, out int outW)
    {
        if (!(scale > 0) || double.IsInfinity(scale))
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "scale must be a positive finite number");
        outH = OutputSize(h, scale);
        outW = OutputSize(w, scale);
        return Core(chw, c, h, w, outH, outW, scale, scale);
    }

    /// <summary>MATLAB's output length for a scale factor: ceil(length × scale).</summary>
    /// <param name="length">Input length.</param>
    /// <param name="scale">Scale factor.</param>
    public static int OutputSize(int length, double scale)
    {
        // MATLAB computes ceil(scale * length). A product that lands within rounding noise above an
        // integer (e.g. 1/3 × 9) is that integer; without the guard ceil would add a spurious pixel.
        double v = length * scale;
        double r = Math.Round(v);
        int n = Math.Abs(v - r) < 1e-9 * Math.Max(1.0, v) ? (int)r : (int)Math.Ceiling(v);
        return Math.Max(1, n);
    }

    private static float[] Core(ReadOnlySpan<float> chw, int c, int h, int w, int outH, int outW, double scaleH, double scaleW,
        bool uint8 = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(c, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(h, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(w, 1);
        if (chw.Length != (long)c * h * w)
            throw new ArgumentException($"data has {chw.Length} samples, expected {c}×{h}×{w} = {(long)c * h * w}", nameof(chw));

        // float64 working copy: MATLAB converts to double and so do the reference ports.
        var src = new double[chw.Length];
        if (uint8)
            for (int i = 0; i < src.Length; i++) src[i] = Image.To8(chw[i]);
        else
            for (int i = 0; i < src.Length; i++) src[i] = chw[i];

        Contributions rows = Contributions.Get(h, outH, scaleH);
        Contributions cols = Contributions.Get(w, outW, scaleW);
        double[] result;
        // MATLAB resizes along the dimension with the smaller scale first; sort is stable so rows
        // (dimension 1) go first when the scales are equal.
        if (scaleW < scaleH)
        {
            double[] tmp = ResizeCols(src, c, h, w, cols);
            if (uint8) RoundSaturate(tmp);
            result = ResizeRows(tmp, c, h, outW, rows);
        }
        else
        {
            double[] tmp = ResizeRows(src, c, h, w, rows);
            if (uint8) RoundSaturate(tmp);
            result = ResizeCols(tmp, c, outH, w, cols);
        }
        var dst = new float[result.Length];
        if (uint8)
        {
            RoundSaturate(result);
            for (int i = 0; i < dst.Length; i++) dst[i] = (float)result[i] / 255f;
        }
        else
        {
            for (int i = 0; i < dst.Length; i++) dst[i] = (float)result[i];
        }
        return dst;
    }

    // MATLAB's conversion of a double result to uint8: round half away from zero, saturate.
    private static void RoundSaturate(double[] v)
    {
        for (int i = 0; i < v.Length; i++)
            v[i] = Math.Clamp(Math.Round(v[i], MidpointRounding.AwayFromZero), 0, 255);
    }

    // out[ch, i, :] = Σ_k weight[i,k] · in[ch, index[i,k], :]: whole rows at a time, cache friendly.
    private static double[] ResizeRows(double[] src, int c, int h, int w, Contributions t)
    {
        int outH = t.OutLength, taps = t.Taps;
        var dst = new double[(long)c * outH * w];
        Parallel.For(0, c * outH, Options(c * outH * w * taps), job =>
        {
            int ch = job / outH, i = job % outH;
            Span<double> d = dst.AsSpan((ch * outH + i) * w, w);
            for (int k = 0; k < taps; k++)
            {
                double wt = t.Weights[i * taps + k];
                ReadOnlySpan<double> s = src.AsSpan((ch * h + t.Indices[i * taps + k]) * w, w);
                for (int x = 0; x < w; x++) d[x] += wt * s[x];
            }
        });
        return dst;
    }

    // out[ch, y, j] = Σ_k weight[j,k] · in[ch, y, index[j,k]].
    private static double[] ResizeCols(double[] src, int c, int h, int w, Contributions t)
    {
        int outW = t.OutLength, taps = t.Taps;
        var dst = new double[(long)c * h * outW];
        Parallel.For(0, c * h, Options(c * h * outW * taps), row =>
        {
            ReadOnlySpan<double> s = src.AsSpan(row * w, w);
            Span<double> d = dst.AsSpan(row * outW, outW);
            for (int j = 0; j < outW; j++)
            {
                double acc = 0;
                int b = j * taps;
                for (int k = 0; k < taps; k++) acc += t.Weights[b + k] * s[t.Indices[b + k]];
                d[j] = acc;
            }
        });
        return dst;
    }

    private static readonly ParallelOptions Serial = new() { MaxDegreeOfParallelism = 1 };
    private static readonly ParallelOptions Default = new();

    // Thread start-up costs more than tiny resizes (conformance-sized inputs), so run those inline.
    private static ParallelOptions Options(long work) => work < 200_000 ? Serial : Default;

    /// <summary>Weight and index tables of one dimension (MATLAB's <c>contributions</c>), cached per (in, out, scale).</summary>
    internal sealed class Contributions
    {
        private static readonly ConcurrentDictionary<(int, int, double), Contributions> Cache = new();

        public required int OutLength { get; init; }
        public required int Taps { get; init; }
        public required double[] Weights { get; init; }   // OutLength × Taps
        public required int[] Indices { get; init; }      // OutLength × Taps, 0-based, in range

        public static Contributions Get(int inLength, int outLength, double scale)
        {
            // Bounded: training loops use a handful of sizes; stop caching if something churns sizes.
            if (Cache.TryGetValue((inLength, outLength, scale), out var t)) return t;
            t = Compute(inLength, outLength, scale);
            if (Cache.Count < 256) Cache.TryAdd((inLength, outLength, scale), t);
            return t;
        }

        public static Contributions Compute(int inLength, int outLength, double scale)
        {
            const double kernelWidth = 4.0;
            bool antialias = scale < 1;
            double width = antialias ? kernelWidth / scale : kernelWidth;
            int p = (int)Math.Ceiling(width) + 2;
            var weights = new double[outLength * p];
            var indices = new int[outLength * p];
            for (int i = 0; i < outLength; i++)
            {
                // MATLAB is 1-based: x = 1..out, u in input coordinates, indices left+0..left+P-1.
                double x = i + 1;
                double u = x / scale + 0.5 * (1 - 1 / scale);
                double left = Math.Floor(u - width / 2);
                double sum = 0;
                for (int k = 0; k < p; k++)
                {
                    double idx = left + k;
                    double d = u - idx;
                    double wgt = antialias ? scale * Cubic(scale * d) : Cubic(d);
                    weights[i * p + k] = wgt;
                    sum += wgt;
                    indices[i * p + k] = Mirror((long)idx, inLength);
                }
                for (int k = 0; k < p; k++) weights[i * p + k] /= sum;
            }

            // Drop tap columns whose weight is zero for every output (MATLAB's "kill" step).
            var keep = new List<int>(p);
            for (int k = 0; k < p; k++)
            {
                bool any = false;
                for (int i = 0; i < outLength && !any; i++) any = weights[i * p + k] != 0;
                if (any) keep.Add(k);
            }
            int q = keep.Count;
            var kw = new double[outLength * q];
            var ki = new int[outLength * q];
            for (int i = 0; i < outLength; i++)
                for (int j = 0; j < q; j++)
                {
                    kw[i * q + j] = weights[i * p + keep[j]];
                    ki[i * q + j] = indices[i * p + keep[j]];
                }
            return new Contributions { OutLength = outLength, Taps = q, Weights = kw, Indices = ki };
        }

        // Keys cubic, a = -0.5, exactly as MATLAB's imresize writes it.
        private static double Cubic(double x)
        {
            double ax = Math.Abs(x), ax2 = ax * ax, ax3 = ax2 * ax;
            if (ax <= 1) return 1.5 * ax3 - 2.5 * ax2 + 1;
            if (ax <= 2) return -0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2;
            return 0;
        }

        // MATLAB: aux = [1:n, n:-1:1]; index = aux(mod(index - 1, 2n) + 1). Returns 0-based.
        private static int Mirror(long oneBased, int n)
        {
            long period = 2L * n;
            long m = ((oneBased - 1) % period + period) % period;
            return (int)(m < n ? m : period - 1 - m);
        }
    }
}
