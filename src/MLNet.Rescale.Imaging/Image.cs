namespace MLNet.Rescale.Imaging;

/// <summary>
/// A decoded image held as planar (CHW, channel-major) float32 samples in [0, 1].
/// Channels: 1 = gray, 3 = RGB, 4 = RGBA. Alpha is never mixed into colour silently:
/// use <see cref="SplitAlpha"/> to take it apart explicitly.
/// </summary>
public sealed class Image
{
    /// <summary>Creates an image over existing planar data (not copied).</summary>
    /// <param name="width">Width in pixels, positive.</param>
    /// <param name="height">Height in pixels, positive.</param>
    /// <param name="channels">1, 3 or 4.</param>
    /// <param name="data">Planar CHW samples, length channels × height × width.</param>
    /// <param name="bitDepth">Bit depth of the source, 8 or 16.</param>
    public Image(int width, int height, int channels, float[] data, int bitDepth = 8)
    {
        ValidateShape(width, height, channels);
        ArgumentNullException.ThrowIfNull(data);
        if (bitDepth != 8 && bitDepth != 16)
            throw new ArgumentOutOfRangeException(nameof(bitDepth), bitDepth, "bit depth must be 8 or 16");
        long expected = (long)channels * width * height;
        if (data.LongLength != expected)
            throw new ArgumentException(
                $"data has {data.LongLength} samples but a {width}×{height}×{channels} image needs {expected}", nameof(data));
        Width = width;
        Height = height;
        Channels = channels;
        Data = data;
        BitDepth = bitDepth;
    }

    /// <summary>Creates a zero-filled image.</summary>
    /// <param name="width">Width in pixels, positive.</param>
    /// <param name="height">Height in pixels, positive.</param>
    /// <param name="channels">1, 3 or 4.</param>
    /// <param name="bitDepth">Bit depth to record, 8 or 16.</param>
    public Image(int width, int height, int channels, int bitDepth = 8)
        : this(width, height, channels, new float[CheckedLength(width, height, channels)], bitDepth)
    {
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Number of channels: 1 (gray), 3 (RGB) or 4 (RGBA).</summary>
    public int Channels { get; }

    /// <summary>Planar CHW samples in [0, 1] (values outside are allowed, e.g. after bicubic resizing).</summary>
    public float[] Data { get; }

    /// <summary>Bit depth of the source the samples came from (8 or 16); decides how metrics and encoders quantize.</summary>
    public int BitDepth { get; }

    /// <summary>True when the last channel is alpha (4 channels).</summary>
    public bool HasAlpha => Channels == 4;

    /// <summary>Pixels per channel plane (Width × Height).</summary>
    public int PlaneSize => Width * Height;

    /// <summary>The samples of one channel plane (row-major, Height × Width).</summary>
    /// <param name="c">Channel index in [0, Channels).</param>
    public Span<float> GetChannel(int c)
    {
        if ((uint)c >= (uint)Channels)
            throw new ArgumentOutOfRangeException(nameof(c), c, $"image has {Channels} channel(s)");
        return Data.AsSpan(c * PlaneSize, PlaneSize);
    }

    /// <summary>A deep copy.</summary>
    public Image Clone() => new(Width, Height, Channels, (float[])Data.Clone(), BitDepth);

    /// <summary>
    /// A 3-channel RGB copy: gray is replicated to three channels, RGB is copied, and for RGBA the alpha
    /// plane is dropped (use <see cref="SplitAlpha"/> when the alpha must be kept).
    /// </summary>
    public Image ToRgb()
    {
        int n = PlaneSize;
        var rgb = new float[3 * n];
        if (Channels == 1)
        {
            for (int c = 0; c < 3; c++) Array.Copy(Data, 0, rgb, c * n, n);
        }
        else
        {
            Array.Copy(Data, 0, rgb, 0, 3 * n);
        }
        return new Image(Width, Height, 3, rgb, BitDepth);
    }

    /// <summary>
    /// Splits off the alpha plane: returns the colour channels (gray or RGB) and sets
    /// <paramref name="alpha"/> to a 1-channel image, or null when there is no alpha.
    /// </summary>
    /// <param name="alpha">The alpha plane as a gray image, or null.</param>
    public Image SplitAlpha(out Image? alpha)
    {
        if (!HasAlpha)
        {
            alpha = null;
            return Clone();
        }
        int n = PlaneSize;
        alpha = new Image(Width, Height, 1, Data.AsSpan(3 * n, n).ToArray(), BitDepth);
        return new Image(Width, Height, 3, Data.AsSpan(0, 3 * n).ToArray(), BitDepth);
    }

    /// <summary>Joins an RGB image and a 1-channel alpha plane of the same size into RGBA.</summary>
    /// <param name="rgb">3-channel colour.</param>
    /// <param name="alpha">1-channel alpha.</param>
    public static Image WithAlpha(Image rgb, Image alpha)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        ArgumentNullException.ThrowIfNull(alpha);
        if (rgb.Channels != 3 || alpha.Channels != 1)
            throw new ArgumentException($"need a 3-channel colour image and a 1-channel alpha, got {rgb.Channels} and {alpha.Channels}");
        if (rgb.Width != alpha.Width || rgb.Height != alpha.Height)
            throw new ArgumentException($"colour is {rgb.Width}×{rgb.Height} but alpha is {alpha.Width}×{alpha.Height}");
        var data = new float[4 * rgb.PlaneSize];
        rgb.Data.CopyTo(data, 0);
        alpha.Data.CopyTo(data, 3 * rgb.PlaneSize);
        return new Image(rgb.Width, rgb.Height, 4, data, Math.Max(rgb.BitDepth, alpha.BitDepth));
    }

    /// <summary>A copy of the rectangle at (<paramref name="x"/>, <paramref name="y"/>) of size <paramref name="w"/> × <paramref name="h"/>.</summary>
    /// <param name="x">Left column.</param>
    /// <param name="y">Top row.</param>
    /// <param name="w">Width, positive.</param>
    /// <param name="h">Height, positive.</param>
    public Image Crop(int x, int y, int w, int h)
    {
        if (w <= 0 || h <= 0)
            throw new ArgumentOutOfRangeException(nameof(w), $"crop size must be positive, got {w}×{h}");
        if (x < 0 || y < 0 || (long)x + w > Width || (long)y + h > Height)
            throw new ArgumentOutOfRangeException(nameof(x),
                $"crop {w}×{h} at ({x},{y}) does not fit in the {Width}×{Height} image");
        var dst = new float[Channels * w * h];
        for (int c = 0; c < Channels; c++)
            for (int r = 0; r < h; r++)
                Array.Copy(Data, c * PlaneSize + (y + r) * Width + x, dst, (c * h + r) * w, w);
        return new Image(w, h, Channels, dst, BitDepth);
    }

    /// <summary>
    /// Crops to the largest multiple of <paramref name="scale"/> in each dimension, keeping the top-left
    /// corner, as the super-resolution literature does before making the LR image.
    /// </summary>
    /// <param name="scale">Scale factor, positive.</param>
    public Image ModCrop(int scale)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 1);
        int w = Width - Width % scale, h = Height - Height % scale;
        if (w == 0 || h == 0)
            throw new ArgumentException($"a {Width}×{Height} image is smaller than the scale {scale}", nameof(scale));
        return w == Width && h == Height ? Clone() : Crop(0, 0, w, h);
    }

    /// <summary>Rounds every sample to the 8-bit grid: round(clamp(v, 0, 1) × 255) / 255, in place. Returns this.</summary>
    public Image Quantize8()
    {
        QuantizeInPlace(Data);
        return this;
    }

    /// <summary>A copy rounded to the 8-bit grid (see <see cref="Quantize8"/>).</summary>
    public Image Quantized8Copy() => Clone().Quantize8();

    /// <summary>Creates an image from interleaved 8-bit samples (HWC, row-major).</summary>
    /// <param name="hwc">Interleaved bytes, length height × width × channels.</param>
    /// <param name="width">Width.</param>
    /// <param name="height">Height.</param>
    /// <param name="channels">1, 3 or 4.</param>
    public static Image FromInterleaved8(ReadOnlySpan<byte> hwc, int width, int height, int channels)
    {
        int n = CheckedLength(width, height, channels);
        if (hwc.Length != n)
            throw new ArgumentException($"got {hwc.Length} bytes, a {width}×{height}×{channels} image needs {n}", nameof(hwc));
        var data = new float[n];
        int plane = width * height;
        for (int p = 0; p < plane; p++)
            for (int c = 0; c < channels; c++)
                data[c * plane + p] = hwc[p * channels + c] / 255f;
        return new Image(width, height, channels, data, 8);
    }

    /// <summary>Creates an image from interleaved 16-bit samples (HWC, row-major, native-endian ushort).</summary>
    /// <param name="hwc">Interleaved samples, length height × width × channels.</param>
    /// <param name="width">Width.</param>
    /// <param name="height">Height.</param>
    /// <param name="channels">1, 3 or 4.</param>
    public static Image FromInterleaved16(ReadOnlySpan<ushort> hwc, int width, int height, int channels)
    {
        int n = CheckedLength(width, height, channels);
        if (hwc.Length != n)
            throw new ArgumentException($"got {hwc.Length} samples, a {width}×{height}×{channels} image needs {n}", nameof(hwc));
        var data = new float[n];
        int plane = width * height;
        for (int p = 0; p < plane; p++)
            for (int c = 0; c < channels; c++)
                data[c * plane + p] = hwc[p * channels + c] / 65535f;
        return new Image(width, height, channels, data, 16);
    }

    /// <summary>Interleaved 8-bit samples (HWC), each round(clamp(v, 0, 1) × 255).</summary>
    public byte[] ToInterleaved8()
    {
        var dst = new byte[Data.Length];
        int plane = PlaneSize, ch = Channels;
        for (int c = 0; c < ch; c++)
        {
            ReadOnlySpan<float> src = Data.AsSpan(c * plane, plane);
            for (int p = 0; p < plane; p++) dst[p * ch + c] = To8(src[p]);
        }
        return dst;
    }

    /// <summary>Interleaved 16-bit samples (HWC), each round(clamp(v, 0, 1) × 65535).</summary>
    public ushort[] ToInterleaved16()
    {
        var dst = new ushort[Data.Length];
        int plane = PlaneSize, ch = Channels;
        for (int c = 0; c < ch; c++)
        {
            ReadOnlySpan<float> src = Data.AsSpan(c * plane, plane);
            for (int p = 0; p < plane; p++) dst[p * ch + c] = To16(src[p]);
        }
        return dst;
    }

    /// <inheritdoc />
    public override string ToString() => $"Image {Width}×{Height}×{Channels} ({BitDepth}-bit source)";

    /// <summary>round(clamp(v, 0, 1) × 255) with ties away from zero, like MATLAB's im2uint8 and NumPy's usual path after clip.</summary>
    internal static byte To8(float v)
    {
        // NaN maps to 0 so a broken network output cannot produce garbage bytes.
        if (!(v > 0f)) return 0;
        if (v >= 1f) return 255;
        return (byte)Math.Round(v * 255.0, MidpointRounding.AwayFromZero);
    }

    internal static ushort To16(float v)
    {
        if (!(v > 0f)) return 0;
        if (v >= 1f) return 65535;
        return (ushort)Math.Round(v * 65535.0, MidpointRounding.AwayFromZero);
    }

    internal static void QuantizeInPlace(Span<float> data)
    {
        for (int i = 0; i < data.Length; i++) data[i] = To8(data[i]) / 255f;
    }

    internal static void ValidateShape(int width, int height, int channels)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"image size must be positive, got {width}×{height}");
        if (channels is not (1 or 3 or 4))
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "channels must be 1 (gray), 3 (RGB) or 4 (RGBA)");
    }

    internal static int CheckedLength(int width, int height, int channels)
    {
        ValidateShape(width, height, channels);
        long n = (long)width * height * channels;
        if (n > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(width), $"a {width}×{height}×{channels} image does not fit in one array");
        return (int)n;
    }
}
