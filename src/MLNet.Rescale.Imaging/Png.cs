using System.Buffers.Binary;
using SkiaSharp;

namespace MLNet.Rescale.Imaging;

/// <summary>
/// PNG: 8-bit files through SkiaSharp, 16-bit files through our managed <see cref="PngStream"/> (Skia cannot keep
/// 16-bit samples exact). Samples are returned exactly as stored in the file: colour-management chunks (gAMA, sRGB,
/// iCCP, cHRM) are removed from the stream before it is decoded, so no gamma or profile conversion is applied.
/// </summary>
public static class Png
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>True when <paramref name="data"/> starts with the PNG signature.</summary>
    /// <param name="data">The first bytes of a file.</param>
    public static bool IsPng(ReadOnlySpan<byte> data) => data.Length >= 8 && data[..8].SequenceEqual(Signature);

    /// <summary>
    /// Decodes a PNG: gray, gray+alpha (as RGBA), RGB, RGBA, palette (expanded to RGB or RGBA) and low bit depths
    /// become 8-bit images; 16-bit files become 16-bit images with their exact stored values.
    /// </summary>
    /// <param name="data">The PNG file contents.</param>
    /// <param name="name">Name used in error messages (usually the path).</param>
    /// <exception cref="ImageFormatException">The data is not a valid PNG or exceeds <see cref="ImagingLimits"/>.</exception>
    public static Image Decode(ReadOnlySpan<byte> data, string name = "<memory>")
    {
        if (!IsPng(data)) throw new ImageFormatException(name, "not a PNG file");
        byte[] clean = StripColorChunks(data, name);
        return PngStream.BitDepth(clean) == 16 ? PngStream.Decode16(clean, name) : SkiaCodec.Decode(clean, name, "PNG");
    }

    /// <summary>Encodes an image as PNG with 8 or 16 bits per sample (alpha straight, not premultiplied).</summary>
    /// <param name="image">Gray, RGB or RGBA image (samples clamped to [0, 1] and rounded).</param>
    /// <param name="bitDepth">8 or 16.</param>
    public static byte[] Encode(Image image, int bitDepth = 8)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (bitDepth != 8 && bitDepth != 16)
            throw new ArgumentOutOfRangeException(nameof(bitDepth), bitDepth, "PNG bit depth must be 8 or 16");
        if (bitDepth == 8) return SkiaCodec.Encode(image, pixmap => pixmap.Encode(SKPngEncoderOptions.Default), "PNG");
        byte colorType = image.Channels switch { 1 => PngStream.Gray, 3 => PngStream.Rgb, _ => PngStream.Rgba };
        ushort[] samples = image.ToInterleaved16();
        var bigEndian = new byte[samples.Length * 2];
        for (int i = 0; i < samples.Length; i++) BinaryPrimitives.WriteUInt16BigEndian(bigEndian.AsSpan(2 * i), samples[i]);
        return PngStream.Write(image.Width, image.Height, colorType, 16, bigEndian);
    }

    /// <summary>
    /// Validates the chunk structure, checks the IHDR size against the pixel limit, and returns the
    /// stream without gAMA/sRGB/iCCP/cHRM so that the decoder does no colour conversion.
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
