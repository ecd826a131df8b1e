using SkiaSharp;

namespace MLNet.Rescale.Imaging;

/// <summary>WebP through SkiaSharp (libwebp inside): RGB and RGBA, lossy or lossless; animations are refused.</summary>
public static class Webp
{
    /// <summary>Largest width or height the WebP bitstream can represent.</summary>
    public const int MaxDimension = 16383;

    /// <summary>True when <paramref name="data"/> starts with a RIFF....WEBP header.</summary>
    /// <param name="data">The first bytes of a file.</param>
    public static bool IsWebp(ReadOnlySpan<byte> data)
        => data.Length >= 12 && data[..4].SequenceEqual("RIFF"u8) && data.Slice(8, 4).SequenceEqual("WEBP"u8);

    /// <summary>Decodes a still WebP (lossy or lossless) into an 8-bit RGB or RGBA image.</summary>
    /// <param name="data">The WebP file contents.</param>
    /// <param name="name">Name used in error messages (usually the path).</param>
    /// <exception cref="ImageFormatException">Corrupt, truncated, animated or oversized data.</exception>
    public static Image Decode(ReadOnlySpan<byte> data, string name = "<memory>")
    {
        if (!IsWebp(data)) throw new ImageFormatException(name, "not a WebP file");
        // The RIFF header gives the file's length: a file cut short is refused even where the decoder would still
        // produce every row (the last bytes of a WebP can be padding or metadata).
        long declared = 8L + System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        if (data.Length < declared) throw new ImageFormatException(name, $"truncated WebP data ({data.Length} of {declared} bytes)");
        return SkiaCodec.Decode(data, name, "WebP");
    }

    /// <summary>
    /// Encodes an image as WebP. Gray images are stored as RGB (WebP has no gray mode). Lossy WebP is libwebp's
    /// encoder as SkiaSharp configures it (method 3), not <c>cwebp</c>'s default method 4: the same quality scale,
    /// slightly different pixels.
    /// </summary>
    /// <param name="image">Gray, RGB or RGBA image.</param>
    /// <param name="quality">Lossy quality 1..100 (ignored when <paramref name="lossless"/>).</param>
    /// <param name="lossless">Use the lossless VP8L coder.</param>
    public static byte[] Encode(Image image, int quality = 95, bool lossless = false)
    {
        ArgumentNullException.ThrowIfNull(image);
        Jpeg.CheckQuality(quality);
        if (image.Width > MaxDimension || image.Height > MaxDimension)
            throw new ArgumentException($"WebP images are at most {MaxDimension}×{MaxDimension}; this one is {image.Width}×{image.Height}", nameof(image));
        var options = new SKWebpEncoderOptions(lossless ? SKWebpEncoderCompression.Lossless : SKWebpEncoderCompression.Lossy, lossless ? 75 : quality);
        return SkiaCodec.Encode(image, pixmap => pixmap.Encode(options), "WebP", grayAllowed: false);
    }

    /// <summary>Encodes as lossy WebP at <paramref name="quality"/> and decodes again (a real codec round trip).</summary>
    /// <param name="image">Gray, RGB or RGBA image; the result has the same channel count.</param>
    /// <param name="quality">Quality 1..100.</param>
    public static Image RoundTrip(Image image, int quality)
    {
        Image decoded = Decode(Encode(image, quality), "<WebP round trip>");
        if (image.Channels != 1) return decoded;
        // Gray went through WebP as R = G = B; its green plane is the gray plane back.
        return new Image(decoded.Width, decoded.Height, 1, decoded.GetChannel(1).ToArray(), 8);
    }
}
