using MLNet.Rescale.Imaging.Native;

namespace MLNet.Rescale.Imaging;

/// <summary>WebP through libwebp's simple API: RGB and RGBA, lossy or lossless; animations are refused.</summary>
public static class Webp
{
    /// <summary>Largest width or height the WebP bitstream can represent.</summary>
    public const int MaxDimension = 16383;

    /// <summary>True when <paramref name="data"/> starts with a RIFF....WEBP header.</summary>
    /// <param name="data">The first bytes of a file.</param>
    public static bool IsWebp(ReadOnlySpan<byte> data)
        => data.Length >= 12 && data[..4].SequenceEqual("RIFF"u8) && data.Slice(8, 4).SequenceEqual("WEBP"u8);

    /// <summary>Decodes a still WebP into an 8-bit RGB or RGBA image.</summary>
    /// <param name="data">The WebP file contents.</param>
    /// <param name="name">Name used in error messages (usually the path).</param>
    /// <exception cref="ImageFormatException">Corrupt, truncated, animated or oversized data.</exception>
    public static unsafe Image Decode(ReadOnlySpan<byte> data, string name = "<memory>")
    {
        if (!IsWebp(data)) throw new ImageFormatException(name, "not a WebP file");
        fixed (byte* src = data)
        {
            WebPBitstreamFeatures f;
            int status = LibWebp.GetFeaturesInternal(src, (nuint)data.Length, &f, LibWebp.DecoderAbiVersion);
            if (status == LibWebp.StatusNotEnoughData) throw new ImageFormatException(name, "truncated WebP data (header incomplete)");
            if (status != LibWebp.StatusOk) throw new ImageFormatException(name, $"invalid WebP data (libwebp status {status})");
            if (f.HasAnimation != 0) throw new ImageFormatException(name, "animated WebP is not supported");
            ImagingLimits.Check(name, f.Width, f.Height);
            int ch = f.HasAlpha != 0 ? 4 : 3;
            int stride = f.Width * ch;
            var buf = new byte[checked(stride * f.Height)];
            fixed (byte* dst = buf)
            {
                byte* r = ch == 4
                    ? LibWebp.DecodeRgbaInto(src, (nuint)data.Length, dst, (nuint)buf.Length, stride)
                    : LibWebp.DecodeRgbInto(src, (nuint)data.Length, dst, (nuint)buf.Length, stride);
                if (r == null) throw new ImageFormatException(name, "corrupt or truncated WebP data");
            }
            return Image.FromInterleaved8(buf, f.Width, f.Height, ch);
        }
    }

    /// <summary>Encodes an image as WebP. Gray images are stored as RGB (WebP has no gray mode).</summary>
    /// <param name="image">Gray, RGB or RGBA image.</param>
    /// <param name="quality">Lossy quality 1..100 (ignored when <paramref name="lossless"/>).</param>
    /// <param name="lossless">Use the lossless VP8L coder.</param>
    public static unsafe byte[] Encode(Image image, int quality = 95, bool lossless = false)
    {
        ArgumentNullException.ThrowIfNull(image);
        Jpeg.CheckQuality(quality);
        if (image.Width > MaxDimension || image.Height > MaxDimension)
            throw new ArgumentException($"WebP images are at most {MaxDimension}×{MaxDimension}; this one is {image.Width}×{image.Height}", nameof(image));
        Image src = image.Channels == 1 ? image.ToRgb() : image;
        byte[] px = src.ToInterleaved8();
        int stride = src.Width * src.Channels;
        byte* output = null;
        try
        {
            nuint size;
            fixed (byte* p = px)
            {
                size = (src.HasAlpha, lossless) switch
                {
                    (false, false) => LibWebp.EncodeRgb(p, src.Width, src.Height, stride, quality, &output),
                    (true, false) => LibWebp.EncodeRgba(p, src.Width, src.Height, stride, quality, &output),
                    (false, true) => LibWebp.EncodeLosslessRgb(p, src.Width, src.Height, stride, &output),
                    (true, true) => LibWebp.EncodeLosslessRgba(p, src.Width, src.Height, stride, &output),
                };
            }
            if (size == 0 || output == null) throw new ImageFormatException("<WebP encoder>", "libwebp failed to encode the image");
            return new ReadOnlySpan<byte>(output, checked((int)size)).ToArray();
        }
        finally
        {
            if (output != null) LibWebp.Free(output);
        }
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
