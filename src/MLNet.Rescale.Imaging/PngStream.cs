using System.Buffers.Binary;
using System.IO.Compression;

namespace MLNet.Rescale.Imaging;

/// <summary>
/// The PNG container in managed code, for what SkiaSharp cannot do exactly: 16-bit samples. Skia decodes a 16-bit PNG
/// to 8888 or to half floats (up to 21/65535 off) and will not encode 16-bit integers, while a 16-bit training or
/// evaluation image must round-trip exactly. Reading covers the 16-bit colour types (grey, RGB, grey+alpha, RGBA,
/// interlaced or not); writing covers every colour type and depth (tests build their palette and grey+alpha files
/// with it). Inflate and deflate are .NET's <see cref="ZLibStream"/>.
/// </summary>
internal static class PngStream
{
    public const byte Gray = 0, Rgb = 2, Palette = 3, GrayAlpha = 4, Rgba = 6;
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Bit depth of a PNG whose chunk structure was validated (the IHDR follows the signature).</summary>
    public static int BitDepth(ReadOnlySpan<byte> png) => png[24];

    /// <summary>
    /// Writes a PNG of big-endian packed rows (<paramref name="samples"/>, without filter bytes) with no filtering,
    /// optionally with a palette (RGB triples).
    /// </summary>
    public static byte[] Write(int width, int height, byte colorType, int bitDepth, ReadOnlySpan<byte> samples, ReadOnlySpan<byte> palette = default)
    {
        Image.ValidateShape(width, height, 1);
        int rowBytes = RowBytes(width, colorType, bitDepth);
        if (samples.Length != (long)rowBytes * height)
            throw new ArgumentException($"expected {(long)rowBytes * height} bytes of samples, got {samples.Length}", nameof(samples));
        using var file = new MemoryStream();
        file.Write(Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr[4..], (uint)height);
        ihdr[8] = (byte)bitDepth;
        ihdr[9] = colorType;
        WriteChunk(file, "IHDR"u8, ihdr);
        if (!palette.IsEmpty) WriteChunk(file, "PLTE"u8, palette);
        using (var raw = new MemoryStream())
        {
            using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            {
                for (int y = 0; y < height; y++)
                {
                    z.WriteByte(0);
                    z.Write(samples.Slice(y * rowBytes, rowBytes));
                }
            }
            WriteChunk(file, "IDAT"u8, raw.GetBuffer().AsSpan(0, (int)raw.Length));
        }
        WriteChunk(file, "IEND"u8, []);
        return file.ToArray();
    }

    /// <summary>Decodes a 16-bit PNG (grey, RGB, grey+alpha as RGBA, RGBA) to its exact stored values, alpha straight.</summary>
    /// <param name="png">A stream whose chunks were validated and whose size was checked against the limit.</param>
    /// <param name="name">Name used in error messages.</param>
    public static Image Decode16(ReadOnlySpan<byte> png, string name)
    {
        int pos = 8, width = 0, height = 0, colorType = -1, interlace = 0;
        using var idat = new MemoryStream();
        while (pos + 12 <= png.Length)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(png[pos..]);
            var type = png.Slice(pos + 4, 4);
            var body = png.Slice(pos + 8, length);
            if (type.SequenceEqual("IHDR"u8))
            {
                width = (int)BinaryPrimitives.ReadUInt32BigEndian(body);
                height = (int)BinaryPrimitives.ReadUInt32BigEndian(body[4..]);
                colorType = body[9];
                if (body[10] != 0 || body[11] != 0) throw new ImageFormatException(name, "corrupt PNG data: unknown compression or filter method");
                interlace = body[12];
                if (interlace > 1) throw new ImageFormatException(name, $"corrupt PNG data: unknown interlace method {interlace}");
            }
            else if (type.SequenceEqual("IDAT"u8)) idat.Write(body);
            else if (type.SequenceEqual("IEND"u8)) break;
            pos += 12 + length;
        }
        int channels = colorType switch { Gray => 1, Rgb => 3, GrayAlpha => 2, Rgba => 4, _ => 0 };
        if (channels == 0) throw new ImageFormatException(name, $"corrupt PNG data: colour type {colorType} cannot have 16-bit samples");
        if (idat.Length == 0) throw new ImageFormatException(name, "corrupt PNG data: no IDAT chunk");

        var passes = interlace == 0 ? [(0, 0, 1, 1)] : Adam7;
        long expected = 0;
        foreach (var (x0, y0, dx, dy) in passes)
        {
            long w = PassSize(width, x0, dx), h = PassSize(height, y0, dy);
            if (w > 0 && h > 0) expected += h * (1 + w * channels * 2);
        }
        var raw = new byte[checked((int)expected)];
        idat.Position = 0;
        int got;
        try
        {
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            got = z.ReadAtLeast(raw, raw.Length, throwOnEndOfStream: false);
            if (got == raw.Length && z.ReadByte() >= 0) throw new ImageFormatException(name, "corrupt PNG data: more image data than the header's size");
        }
        catch (InvalidDataException e)
        {
            throw new ImageFormatException(name, $"corrupt PNG data: {e.Message}");
        }
        if (got < raw.Length) throw new ImageFormatException(name, $"truncated PNG data (image data ends after {got} of {raw.Length} bytes)");

        var samples = new ushort[checked((long)width * height * channels)];
        int offset = 0, bpp = channels * 2;
        foreach (var (x0, y0, dx, dy) in passes)
        {
            int w = PassSize(width, x0, dx), h = PassSize(height, y0, dy);
            if (w == 0 || h == 0) continue;
            int stride = w * bpp;
            for (int y = 0; y < h; y++)
            {
                var line = raw.AsSpan(offset + 1, stride);
                var previous = y == 0 ? Span<byte>.Empty : raw.AsSpan(offset - stride, stride);
                Unfilter(raw[offset], line, previous, bpp, name);
                int row = y0 + y * dy;
                for (int x = 0; x < w; x++)
                {
                    int col = x0 + x * dx;
                    for (int c = 0; c < channels; c++)
                        samples[((long)row * width + col) * channels + c] = BinaryPrimitives.ReadUInt16BigEndian(line[((x * channels + c) * 2)..]);
                }
                offset += 1 + stride;
            }
        }
        if (channels != 2) return Image.FromInterleaved16(samples, width, height, channels);
        // Our Image has no 2-channel layout: grey+alpha becomes RGBA (grey replicated, alpha kept).
        var rgba = new ushort[checked((long)width * height * 4)];
        for (long p = 0; p < (long)width * height; p++)
        {
            ushort g = samples[2 * p];
            rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = g;
            rgba[4 * p + 3] = samples[2 * p + 1];
        }
        return Image.FromInterleaved16(rgba, width, height, 4);
    }

    private static readonly (int X0, int Y0, int Dx, int Dy)[] Adam7 =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    private static int PassSize(int size, int start, int step) => size <= start ? 0 : (size - start + step - 1) / step;

    private static int RowBytes(int width, byte colorType, int bitDepth)
    {
        int channels = colorType switch { Gray => 1, Rgb => 3, Palette => 1, GrayAlpha => 2, Rgba => 4, _ => throw new ArgumentOutOfRangeException(nameof(colorType)) };
        return checked((width * channels * bitDepth + 7) / 8);
    }

    // The five PNG filters, undone in place; `previous` is the unfiltered line above (empty for the first).
    private static void Unfilter(byte filter, Span<byte> line, ReadOnlySpan<byte> previous, int bpp, string name)
    {
        for (int i = 0; i < line.Length; i++)
        {
            int a = i >= bpp ? line[i - bpp] : 0, b = previous.IsEmpty ? 0 : previous[i], c = i >= bpp && !previous.IsEmpty ? previous[i - bpp] : 0;
            line[i] += filter switch
            {
                0 => 0,
                1 => (byte)a,
                2 => (byte)b,
                3 => (byte)((a + b) / 2),
                4 => (byte)Paeth(a, b, c),
                _ => throw new ImageFormatException(name, $"corrupt PNG data: unknown row filter {filter}"),
            };
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static void WriteChunk(Stream file, ReadOnlySpan<byte> type, ReadOnlySpan<byte> body)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)body.Length);
        file.Write(word);
        file.Write(type);
        file.Write(body);
        uint crc = Crc32.Update(Crc32.Update(0xFFFFFFFF, type), body) ^ 0xFFFFFFFF;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        file.Write(word);
    }

    private static class Crc32
    {
        private static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
        {
            uint c = (uint)n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            return c;
        }).ToArray();

        public static uint Update(uint crc, ReadOnlySpan<byte> data)
        {
            foreach (byte b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            return crc;
        }
    }
}
