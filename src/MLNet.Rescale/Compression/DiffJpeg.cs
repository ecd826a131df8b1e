using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

namespace MLNet.Rescale.Compression;

/// <summary>How <see cref="DiffJpeg"/> rounds the quantized DCT coefficients.</summary>
public enum JpegRounding
{
    /// <summary>
    /// The Fourier-series approximation <c>x − (1/π)·Σₙ₌₁..₉ (−1)ⁿ⁺¹ sin(2πnx)/n</c>: smooth, so gradients flow
    /// through quantization (SAIN's surrogate).
    /// </summary>
    Differentiable,
    /// <summary>Exact rounding to the nearest integer (ties to even), as a real codec; its gradient is zero.</summary>
    Hard,
}

/// <summary>
/// A differentiable JPEG simulator built from tensor operations, so autograd runs through it: RGB in [0, 1]
/// (NCHW, 3 channels) → ×255 → YCbCr (JPEG full range) → 4:2:0 chroma (2×2 average) → 8×8 block DCT → division by
/// the standard luma/chroma tables scaled by the quality → rounding → dequantization → inverse DCT → nearest chroma
/// upsampling → RGB → clamp [0, 255] → ÷255. It reproduces the reference simulator SAIN trains with
/// (<c>diffjpeg_small</c> vector).
/// </summary>
/// <remarks>
/// <para>Quality factor f = Q &lt; 50 ? 50/Q : (200 − 2Q)/100 multiplies the tables without flooring them to integers,
/// as the reference does. Unlike the reference, each scaled entry is clamped to [1, 255] as libjpeg's baseline
/// tables are: the reference divides by zero at Q = 100 and its steps leave JPEG's range below Q ≈ 20 or above
/// Q ≈ 95; between those the clamp changes nothing, so conformance is unaffected.</para>
/// <para>Sizes: a height or width that is not a multiple of 16 (one 4:2:0 macroblock) is padded by repeating the
/// last row and column, as JPEG encoders do, and the output is cropped back to the input size.</para>
/// </remarks>
public sealed class DiffJpeg : nn.Module<Tensor, Tensor>
{
    /// <summary>The standard luminance table (ITU T.81 Annex K.1), row-major, vertical frequency first.</summary>
    public static ReadOnlySpan<byte> LumaTable =>
    [
        16, 11, 10, 16, 24, 40, 51, 61,
        12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56,
        14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77,
        24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101,
        72, 92, 95, 98, 112, 100, 103, 99,
    ];

    /// <summary>The standard chrominance table (ITU T.81 Annex K.2).</summary>
    public static ReadOnlySpan<byte> ChromaTable =>
    [
        17, 18, 24, 47, 99, 99, 99, 99,
        18, 21, 26, 66, 99, 99, 99, 99,
        24, 26, 56, 99, 99, 99, 99, 99,
        47, 66, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
    ];

    // JPEG (JFIF) full-range colour transforms, as 3×3 matrices applied to the last axis (row vector · M).
    private static readonly float[] RgbToYcc = Transposed(
    [
        0.299f, 0.587f, 0.114f,
        -0.168736f, -0.331264f, 0.5f,
        0.5f, -0.418688f, -0.081312f,
    ]);
    private static readonly float[] YccToRgb = Transposed(
    [
        1f, 0f, 1.402f,
        1f, -0.344136f, -0.714136f,
        1f, 1.772f, 0f,
    ]);

    // The 2-D DCT-II of a flattened 8×8 block as one 64×64 matrix, pixel (x, y) to frequency (u, v):
    // Dct[x·8 + y, u·8 + v] = cos((2x+1)uπ/16)·cos((2y+1)vπ/16), then ×α(u)α(v)/4 with α(0) = 1/√2, else 1.
    // Idct[u·8 + v, x·8 + y] is the same cosine product (the transpose), applied after ×α(u)α(v) and before ×1/4.
    private static readonly float[] Dct = Basis(forward: true);
    private static readonly float[] Idct = Basis(forward: false);
    private static readonly float[] Alpha = AlphaOuter(1);
    private static readonly float[] DctScale = AlphaOuter(0.25);

    private readonly float[] lumaSteps;
    private readonly float[] chromaSteps;

    /// <summary>Creates a simulator at <paramref name="quality"/> (1–100).</summary>
    public DiffJpeg(int quality, JpegRounding rounding = JpegRounding.Differentiable) : base(TorchRuntime.Started(nameof(DiffJpeg)))
    {
        if (quality is < 1 or > 100) throw new ArgumentOutOfRangeException(nameof(quality), $"JPEG quality must be 1–100, got {quality}");
        Quality = quality;
        Rounding = rounding;
        lumaSteps = ScaledTable(LumaTable, quality);
        chromaSteps = ScaledTable(ChromaTable, quality);
    }

    /// <summary>
    /// Nothing to do: submodules and parameters are registered explicitly under the reference names, and TorchSharp's
    /// automatic registration by C# field name would add them a second time under other names.
    /// </summary>
    protected override void RegisterComponents() { }

    /// <summary>JPEG quality, 1–100.</summary>
    public int Quality { get; }

    /// <summary>Rounding of the quantized coefficients.</summary>
    public JpegRounding Rounding { get; }

    /// <summary>The factor that scales the standard tables at a quality: Q &lt; 50 ? 50/Q : (200 − 2Q)/100.</summary>
    public static double QualityFactor(int quality) => quality < 50 ? 50.0 / quality : (200 - 2.0 * quality) / 100;

    /// <summary>A standard table scaled by <see cref="QualityFactor"/> in float32 (not floored), clamped to [1, 255].</summary>
    public static float[] ScaledTable(ReadOnlySpan<byte> table, int quality)
    {
        float f = (float)QualityFactor(quality);
        var steps = new float[64];
        for (int i = 0; i < 64; i++) steps[i] = Math.Clamp(table[i] * f, 1f, 255f);
        return steps;
    }

    /// <summary>Compresses and decompresses an RGB batch [N, 3, H, W] with values in [0, 1]; differentiable.</summary>
    public override Tensor forward(Tensor rgb)
    {
        if (rgb.dim() != 4 || rgb.size(1) != 3)
            throw new ArgumentException($"DiffJpeg expects RGB images [N, 3, H, W], got [{string.Join(", ", rgb.shape)}]", nameof(rgb));
        using var scope = NewDisposeScope();
        long h = rgb.size(2), w = rgb.size(3);
        int padH = (int)((16 - h % 16) % 16), padW = (int)((16 - w % 16) % 16);
        var x = padH + padW > 0 ? nn.functional.pad(rgb, [0, padW, 0, padH], PaddingModes.Replicate) : rgb;
        long ph = h + padH, pw = w + padW;

        var ycc = (x * S(255)).permute(0, 2, 3, 1).matmul(Constant(RgbToYcc, rgb, 3, 3)).Plus(Constant([0f, 128f, 128f], rgb, 3));
        ycc = ycc.permute(0, 3, 1, 2);
        var y = BlockCodec(ycc.narrow(1, 0, 1), lumaSteps, rgb);
        var chroma = BlockCodec(nn.functional.avg_pool2d(ycc.narrow(1, 1, 2), 2), chromaSteps, rgb);
        chroma = nn.functional.interpolate(chroma, size: [ph, pw], mode: InterpolationMode.Nearest);
        var decoded = cat([y, chroma], 1).permute(0, 2, 3, 1).Plus(Constant([0f, -128f, -128f], rgb, 3))
            .matmul(Constant(YccToRgb, rgb, 3, 3)).permute(0, 3, 1, 2);
        var output = decoded.clamp(S(0), S(255)) / S(255);
        if (padH + padW > 0) output = output.narrow(2, 0, h).narrow(3, 0, w);
        return output.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Level shift, 8×8 DCT, quantization with <paramref name="steps"/>, rounding, dequantization and inverse DCT of
    /// every block of planes [N, C, H, W] (H, W multiples of 8).
    /// </summary>
    private Tensor BlockCodec(Tensor planes, float[] steps, Tensor like)
    {
        using var scope = NewDisposeScope();
        long n = planes.size(0), c = planes.size(1), h = planes.size(2), w = planes.size(3);
        var blocks = planes.reshape(n, c, h / 8, 8, w / 8, 8).permute(0, 1, 2, 4, 3, 5).reshape(-1, 64);
        var coefficients = (blocks - S(128)).matmul(Constant(Dct, like, 64, 64)) * Constant(DctScale, like, 64);
        var q = Constant(steps, like, 64);
        var dequantized = Round(coefficients / q) * q;
        var pixels = (dequantized * Constant(Alpha, like, 64)).matmul(Constant(Idct, like, 64, 64)).mul(S(0.25)).Plus(128);
        return pixels.reshape(n, c, h / 8, w / 8, 8, 8).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h, w).MoveToOuterDisposeScope();
    }

    private Tensor Round(Tensor x)
    {
        if (Rounding == JpegRounding.Hard) return x.round();
        using var scope = NewDisposeScope();
        Tensor? series = null;
        for (int k = 1; k <= 9; k++)
        {
            var term = (x * S(2 * Math.PI * k)).sin() / S(k);
            series = series is null ? term : k % 2 == 1 ? series.Plus(term) : series - term;
        }
        return (x - series! / S(Math.PI)).MoveToOuterDisposeScope();
    }

    /// <summary>A constant on the device and in the dtype of <paramref name="like"/>.</summary>
    private static Tensor Constant(float[] values, Tensor like, params long[] shape)
    {
        var t = tensor(values, shape, device: like.device);
        return like.dtype == ScalarType.Float32 ? t : t.to(like.dtype);
    }

    private static float[] Basis(bool forward)
    {
        var m = new float[64 * 64];
        for (int x = 0; x < 8; x++)
        for (int y = 0; y < 8; y++)
        for (int u = 0; u < 8; u++)
        for (int v = 0; v < 8; v++)
        {
            // Computed in double and rounded once, as the reference builds its basis in float64 then casts.
            float value = (float)(Math.Cos((2 * x + 1) * u * Math.PI / 16) * Math.Cos((2 * y + 1) * v * Math.PI / 16));
            if (forward) m[(x * 8 + y) * 64 + u * 8 + v] = value;
            else m[(u * 8 + v) * 64 + x * 8 + y] = value;
        }
        return m;
    }

    private static float[] AlphaOuter(double scale)
    {
        var a = new double[8];
        a[0] = 1 / Math.Sqrt(2);
        for (int i = 1; i < 8; i++) a[i] = 1;
        var m = new float[64];
        for (int u = 0; u < 8; u++)
        for (int v = 0; v < 8; v++) m[u * 8 + v] = (float)(a[u] * a[v] * scale);
        return m;
    }

    private static float[] Transposed(float[] m) => [m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]];
}
