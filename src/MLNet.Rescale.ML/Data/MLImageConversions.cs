using System.Reflection;
using Microsoft.ML.Data;
using MLNet.Rescale.Imaging;

namespace MLNet.Rescale.ML.Data;

/// <summary>
/// Between ML.NET's <see cref="MLImage"/> (interleaved 8-bit BGRA or RGBA, colour premultiplied by alpha, as SkiaSharp
/// keeps it) and the networks' <see cref="Image"/> (planar floats in [0, 1], colour not premultiplied). Opaque images
/// cross both ways bit-exactly: an image whose pixels all have B = G = R becomes one grey channel (as a grey file does in
/// <c>rescale</c>), any other opaque image three RGB channels. An image with any translucent pixel becomes RGBA; its
/// colour is un-premultiplied here, which cannot restore what premultiplication rounded away (a pixel of alpha a keeps
/// about log2(a) bits per colour channel; fully transparent pixels have no colour at all).
/// </summary>
public static class MLImageConversions
{
    /// <summary>
    /// Lets an <see cref="MLImage"/> property without <c>[ImageType(h, w)]</c> map to an image column of any size in
    /// <c>LoadFromEnumerable</c>, <c>CreateEnumerable</c> and <c>PredictionEngine</c> (ML.NET 5.0.1's size-less
    /// <c>[ImageType]</c> throws), as the columns of our transformers usually are. Runs when this assembly loads; a
    /// registration the application made first is kept.
    /// </summary>
    [System.Runtime.CompilerServices.ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "ML.NET's type registry is process-wide and must know MLImage before any schema is built.")]
    internal static void RegisterMLImage()
    {
        // Model.Load finds our loaders by loading this assembly by name. Where the application loaded it from a path
        // (#r "…/MLNet.Rescale.ML.dll" in a Polyglot notebook) a by-name load finds nothing: answer with this assembly.
        var self = typeof(MLImageConversions).Assembly;
        AppDomain.CurrentDomain.AssemblyResolve += (_, request) =>
            AssemblyName.ReferenceMatchesDefinition(new AssemblyName(request.Name), self.GetName()) ? self : null;
        try
        {
            DataViewTypeManager.Register(new Microsoft.ML.Transforms.Image.ImageDataViewType(), typeof(MLImage));
        }
        catch (ArgumentOutOfRangeException)
        {
            // Already registered (by the application, or by ML.NET itself): theirs stands.
        }
    }

    /// <summary>The image as planar floats (1, 3 or 4 channels, see the class remarks); the MLImage is not disposed.</summary>
    /// <exception cref="ArgumentException">The MLImage's pixel format is neither BGRA32 nor RGBA32.</exception>
    public static Image ToImage(this MLImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var (r, b) = Offsets(image.PixelFormat);
        int w = image.Width, h = image.Height, n = w * h;
        ReadOnlySpan<byte> px = image.Pixels;
        if (px.Length < 4L * n) throw new ArgumentException($"MLImage {w}×{h}: {px.Length} bytes of pixels, expected {4L * n}", nameof(image));
        bool opaque = true, grey = true;
        for (int p = 0; p < n && opaque; p++)
        {
            int o = 4 * p;
            opaque = px[o + 3] == 255;
            grey &= px[o] == px[o + 1] && px[o + 1] == px[o + 2];
        }
        int channels = !opaque ? 4 : grey ? 1 : 3;
        var data = new float[channels * n];
        for (int p = 0; p < n; p++)
        {
            int o = 4 * p;
            if (channels == 1)
            {
                data[p] = px[o] / 255f;
                continue;
            }
            byte a = px[o + 3];
            data[p] = Unpremultiply(px[o + r], a);
            data[n + p] = Unpremultiply(px[o + 1], a);
            data[2 * n + p] = Unpremultiply(px[o + b], a);
            if (channels == 4) data[3 * n + p] = a / 255f;
        }
        return new Image(w, h, channels, data);
    }

    /// <summary>
    /// A new BGRA32 MLImage of the image (samples rounded to 8 bits; grey replicated to B = G = R; alpha premultiplied
    /// into the colour as SkiaSharp expects). The caller owns and disposes it.
    /// </summary>
    public static MLImage ToMLImage(this Image image) => MLImage.CreateFromPixels(image.Width, image.Height, MLPixelFormat.Bgra32, ToBgra32(image));

    /// <summary>The premultiplied BGRA32 bytes <see cref="ToMLImage"/> wraps (cached by the transformers, so a row read twice converts once).</summary>
    internal static byte[] ToBgra32(Image image)
    {
        ArgumentNullException.ThrowIfNull(image);
        byte[] src = image.ToInterleaved8();
        int n = image.PlaneSize, ch = image.Channels;
        var dst = new byte[4 * n];
        for (int p = 0; p < n; p++)
        {
            int s = p * ch, o = 4 * p;
            if (ch == 1)
            {
                dst[o] = dst[o + 1] = dst[o + 2] = src[s];
                dst[o + 3] = 255;
                continue;
            }
            byte a = ch == 4 ? src[s + 3] : (byte)255;
            dst[o] = Premultiply(src[s + 2], a);
            dst[o + 1] = Premultiply(src[s + 1], a);
            dst[o + 2] = Premultiply(src[s], a);
            dst[o + 3] = a;
        }
        return dst;
    }

    private static (int Red, int Blue) Offsets(MLPixelFormat format) => format switch
    {
        MLPixelFormat.Bgra32 => (2, 0),
        MLPixelFormat.Rgba32 => (0, 2),
        _ => throw new ArgumentException($"MLImage pixel format {format} is not supported (BGRA32 or RGBA32 expected)"),
    };

    // Skia rounds c·a/255 to nearest; the inverse is exact for a = 255 and the nearest value otherwise.
    private static byte Premultiply(byte c, byte a) => a == 255 ? c : (byte)((c * a + 127) / 255);

    private static float Unpremultiply(byte c, byte a) =>
        a == 255 ? c / 255f : a == 0 ? 0f : Math.Min(255, (c * 255 + a / 2) / a) / 255f;
}
