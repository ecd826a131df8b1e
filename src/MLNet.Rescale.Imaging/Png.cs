using System.Buffers.Binary;
using MLNet.Rescale.Imaging.Native;

namespace MLNet.Rescale.Imaging;

/// <summary>
/// PNG through libpng16's simplified API. Samples are returned exactly as stored in the file:
/// colour-management chunks (gAMA, sRGB, iCCP, cHRM) are removed from the stream before libpng sees it,
/// so the simplified API never applies a gamma conversion (8-bit data is taken as sRGB and 16-bit data as
/// linear, and both are passed through unchanged).
/// </summary>
public static class Png
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>True when <paramref name="data"/> starts with the PNG signature.</summary>
    /// <param name="data">The first bytes of a file.</param>
    public static bool IsPng(ReadOnlySpan<byte> data) => data.Length >= 8 && data[..8].SequenceEqual(Signature);

    /// <summary>
    /// Decodes a PNG: gray, gray+alpha, RGB, RGBA, palette (expanded to RGB or RGBA) and low bit depths
    /// become 8-bit images; 16-bit files become 16-bit images with their exact stored values.
    /// </summary>
    /// <param name="data">The PNG file contents.</param>
    /// <param name="name">Name used in error messages (usually the path).</param>
    /// <exception cref="ImageFormatException">The data is not a valid PNG or exceeds <see cref="ImagingLimits"/>.</exception>
    public static unsafe Image Decode(ReadOnlySpan<byte> data, string name = "<memory>")
    {
        if (!IsPng(data)) throw new ImageFormatException(name, "not a PNG file");
        byte[] clean = StripColorChunks(data, name);

        var img = new PngImage { Version = PngImage.VersionValue };
        try
        {
            fixed (byte* p = clean)
            {
                if (LibPng.BeginReadFromMemory(&img, p, (nuint)clean.Length) == 0)
                    throw new ImageFormatException(name, $"invalid PNG: {img.GetMessage()}");
                ImagingLimits.Check(name, img.Width, img.Height);

                bool sixteen = (img.Format & LibPng.FormatFlagLinear) != 0;
                bool alpha = (img.Format & LibPng.FormatFlagAlpha) != 0;
                bool color = (img.Format & LibPng.FormatFlagColor) != 0;
                int channels = (color ? 3 : 1) + (alpha ? 1 : 0);
                // Ask for the file's own layout, minus the colour-map (palette gets expanded) and
                // minus any channel-order flags.
                img.Format = (sixteen ? LibPng.FormatFlagLinear : 0) | (color ? LibPng.FormatFlagColor : 0)
                             | (alpha ? LibPng.FormatFlagAlpha : 0);
                int w = (int)img.Width, h = (int)img.Height;
                int stride = checked(w * channels);
                int n = checked(stride * h);

                if (!sixteen)
                {
                    var buf = new byte[n];
                    fixed (byte* b = buf)
                        if (LibPng.FinishRead(&img, null, b, stride, null) == 0)
                            throw Failure(name, img.GetMessage());
                    return ToPlanar<byte>(buf, w, h, channels, 255f, 8);
                }
                else
                {
                    var buf = new ushort[n];
                    fixed (ushort* b = buf)
                        if (LibPng.FinishRead(&img, null, b, stride, null) == 0)
                            throw Failure(name, img.GetMessage());
                    var result = ToPlanar<ushort>(buf, w, h, channels, 65535f, 16);
                    if (alpha) Unpremultiply(result);
                    return result;
                }
            }
        }
        finally
        {
            LibPng.Free(&img);
        }
    }

    /// <summary>Encodes an image as PNG with 8 or 16 bits per sample.</summary>
    /// <param name="image">Gray, RGB or RGBA image (samples clamped to [0, 1] and rounded).</param>
    /// <param name="bitDepth">8 or 16.</param>
    public static unsafe byte[] Encode(Image image, int bitDepth = 8)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (bitDepth != 8 && bitDepth != 16)
            throw new ArgumentOutOfRangeException(nameof(bitDepth), bitDepth, "PNG bit depth must be 8 or 16");
        uint format = (image.Channels >= 3 ? LibPng.FormatFlagColor : 0) | (image.HasAlpha ? LibPng.FormatFlagAlpha : 0);
        if (bitDepth == 8)
            return EncodeInterleaved<byte>(image.ToInterleaved8(), image.Width, image.Height, format, null);
        // The simplified API treats 16-bit alpha as associated (premultiplied) and divides it out
        // on write, so premultiply first to store the caller's straight values.
        Image src = image.HasAlpha ? Premultiplied(image) : image;
        byte[] png = EncodeInterleaved<ushort>(src.ToInterleaved16(), image.Width, image.Height,
            format | LibPng.FormatFlagLinear, null);
        // libpng tags 16-bit output with gAMA 1.0 (linear). Our samples are the file's raw code
        // values, not linear light, so drop that tag rather than mislabel the file.
        return StripColorChunks(png, "<encoder output>");
    }

    /// <summary>
    /// Writes interleaved samples in any simplified-API <paramref name="format"/> (also gray+alpha and,
    /// with <paramref name="colormap"/>, palette images, which tests use to build fixtures).
    /// </summary>
    internal static unsafe byte[] EncodeInterleaved<T>(ReadOnlySpan<T> pixels, int width, int height, uint format,
        byte[]? colormap) where T : unmanaged
    {
        Image.ValidateShape(width, height, 1);
        int perPixel = (format & LibPng.FormatFlagColormap) != 0 ? 1
            : ((format & LibPng.FormatFlagColor) != 0 ? 3 : 1) + ((format & LibPng.FormatFlagAlpha) != 0 ? 1 : 0);
        if (pixels.Length != (long)width * height * perPixel)
            throw new ArgumentException($"expected {(long)width * height * perPixel} samples, got {pixels.Length}", nameof(pixels));
        var img = new PngImage
        {
            Version = PngImage.VersionValue,
            Width = (uint)width,
            Height = (uint)height,
            Format = format,
            ColormapEntries = colormap is null ? 0u : (uint)(colormap.Length / ((format & LibPng.FormatFlagAlpha) != 0 ? 4 : 3)),
        };
        try
        {
            fixed (T* b = pixels)
            fixed (byte* cm = colormap)
                return WriteWithRetry(&img, b, width * perPixel, pixels.Length * sizeof(T), cm);
        }
        finally
        {
            LibPng.Free(&img);
        }
    }

    private static unsafe byte[] WriteWithRetry(PngImage* img, void* pixels, int stride, int rawBytes, void* colormap)
    {
        // Deflate rarely expands data by more than a fraction of a percent; one retry covers the rest.
        nuint size = (nuint)(rawBytes + (long)img->Height + rawBytes / 100 + 4096);
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var buf = new byte[size];
            nuint got = size;
            int ok;
            fixed (byte* o = buf) ok = LibPng.WriteToMemory(img, o, &got, 0, pixels, stride, colormap);
            if (ok != 0) return buf.AsSpan(0, (int)got).ToArray();
            if (got <= size)
                throw new ImageFormatException("<PNG encoder>", $"libpng failed: {img->GetMessage()}");
            size = got;
            img->WarningOrError = 0;
        }
        throw new ImageFormatException("<PNG encoder>", "libpng needed more memory than it reported");
    }

    // Our Image has no 2-channel layout, so gray+alpha becomes RGBA (gray replicated, alpha kept):
    // alpha stays explicit instead of being dropped.
    private static Image ToPlanar<T>(ReadOnlySpan<T> hwc, int w, int h, int fileChannels, float max, int bitDepth)
        where T : unmanaged, System.Numerics.INumberBase<T>
    {
        int outCh = fileChannels == 2 ? 4 : fileChannels;
        int n = w * h;
        var data = new float[outCh * n];
        for (int c = 0; c < outCh; c++)
        {
            int sc = fileChannels == 2 ? (c < 3 ? 0 : 1) : c;
            Span<float> plane = data.AsSpan(c * n, n);
            for (int p = 0; p < n; p++) plane[p] = float.CreateTruncating(hwc[p * fileChannels + sc]) / max;
        }
        return new Image(w, h, outCh, data, bitDepth);
    }

    private static ImageFormatException Failure(string name, string message)
    {
        string lower = message.ToLowerInvariant();
        bool truncated = lower.Contains("not enough") || lower.Contains("end of") || lower.Contains("truncat");
        return new ImageFormatException(name, truncated ? $"truncated PNG data ({message})" : $"corrupt PNG data: {message}");
    }

    private static void Unpremultiply(Image img)
    {
        int n = img.PlaneSize, colors = img.Channels - 1;
        var d = img.Data;
        for (int p = 0; p < n; p++)
        {
            float a = d[colors * n + p];
            if (a <= 0f || a >= 1f) continue;
            for (int c = 0; c < colors; c++) d[c * n + p] = MathF.Min(1f, d[c * n + p] / a);
        }
    }

    private static Image Premultiplied(Image img)
    {
        var r = img.Clone();
        int n = r.PlaneSize, colors = r.Channels - 1;
        var d = r.Data;
        for (int p = 0; p < n; p++)
        {
            float a = Math.Clamp(d[colors * n + p], 0f, 1f);
            for (int c = 0; c < colors; c++) d[c * n + p] *= a;
        }
        return r;
    }

    /// <summary>
    /// Validates the chunk structure, checks the IHDR size against the pixel limit, and returns the
    /// stream without gAMA/sRGB/iCCP/cHRM so that libpng does no colour conversion.
    /// </summary>
    internal static byte[] StripColorChunks(ReadOnlySpan<byte> data, string name)
    {
        var outBuf = new byte[data.Length];
        Signature.CopyTo(outBuf);
        int src = 8, dst = 8;
        bool sawIhdr = false;
        while (true)
        {
            if (src + 12 > data.Length)
                throw new ImageFormatException(name, src == data.Length || src + 8 > data.Length
                    ? "truncated PNG data (ends before the IEND chunk)" : "truncated PNG data (incomplete chunk header)");
            uint len = BinaryPrimitives.ReadUInt32BigEndian(data[src..]);
            if (len > int.MaxValue) throw new ImageFormatException(name, $"corrupt PNG data: chunk length {len}");
            ReadOnlySpan<byte> type = data.Slice(src + 4, 4);
            long total = 12L + len;
            if (src + total > data.Length)
                throw new ImageFormatException(name,
                    $"truncated PNG data ({System.Text.Encoding.ASCII.GetString(type)} chunk needs {len} bytes, {data.Length - src - 12} left)");
            if (!sawIhdr)
            {
                if (!type.SequenceEqual("IHDR"u8) || len < 8)
                    throw new ImageFormatException(name, "corrupt PNG data: first chunk is not IHDR");
                sawIhdr = true;
                ImagingLimits.Check(name, BinaryPrimitives.ReadUInt32BigEndian(data[(src + 8)..]),
                    BinaryPrimitives.ReadUInt32BigEndian(data[(src + 12)..]));
            }
            bool drop = type.SequenceEqual("gAMA"u8) || type.SequenceEqual("sRGB"u8)
                        || type.SequenceEqual("iCCP"u8) || type.SequenceEqual("cHRM"u8);
            if (!drop)
            {
                data.Slice(src, (int)total).CopyTo(outBuf.AsSpan(dst));
                dst += (int)total;
            }
            src += (int)total;
            if (type.SequenceEqual("IEND"u8)) break;
        }
        return outBuf.AsSpan(0, dst).ToArray();
    }
}
