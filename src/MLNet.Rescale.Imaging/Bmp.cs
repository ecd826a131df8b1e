using System.Buffers.Binary;

namespace MLNet.Rescale.Imaging;

/// <summary>
/// Managed reader for uncompressed Windows BMP files, the kind found in older training folders:
/// 24-bit BGR, 32-bit BGRX/BGRA (BI_RGB or BI_BITFIELDS with the standard masks) and 8-bit palette.
/// </summary>
public static class Bmp
{
    private const int BiRgb = 0, BiBitfields = 3, BiAlphaBitfields = 6;

    /// <summary>True when <paramref name="data"/> starts with "BM" and a plausible header.</summary>
    /// <param name="data">The first bytes of a file.</param>
    public static bool IsBmp(ReadOnlySpan<byte> data)
        => data.Length >= 26 && data[0] == (byte)'B' && data[1] == (byte)'M'
           && BinaryPrimitives.ReadUInt32LittleEndian(data[14..]) is 12 or 40 or 52 or 56 or 64 or 108 or 124;

    /// <summary>Decodes an uncompressed BMP into an 8-bit gray, RGB or RGBA image.</summary>
    /// <param name="data">The BMP file contents.</param>
    /// <param name="name">Name used in error messages (usually the path).</param>
    /// <exception cref="ImageFormatException">Compressed, unsupported, truncated or oversized data.</exception>
    public static Image Decode(ReadOnlySpan<byte> data, string name = "<memory>")
    {
        if (!IsBmp(data)) throw new ImageFormatException(name, "not a BMP file");
        uint pixelOffset = BinaryPrimitives.ReadUInt32LittleEndian(data[10..]);
        int headerSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(data[14..]);
        if (data.Length < 14 + headerSize) throw new ImageFormatException(name, "truncated BMP data (header incomplete)");
        long width, height;
        int bpp, compression = BiRgb;
        uint colorsUsed = 0;
        if (headerSize == 12)
        {
            // OS/2 BITMAPCOREHEADER: 16-bit sizes, bottom-up only.
            width = BinaryPrimitives.ReadUInt16LittleEndian(data[18..]);
            height = BinaryPrimitives.ReadUInt16LittleEndian(data[20..]);
            bpp = BinaryPrimitives.ReadUInt16LittleEndian(data[24..]);
        }
        else
        {
            width = BinaryPrimitives.ReadInt32LittleEndian(data[18..]);
            height = BinaryPrimitives.ReadInt32LittleEndian(data[22..]);
            bpp = BinaryPrimitives.ReadUInt16LittleEndian(data[28..]);
            compression = (int)BinaryPrimitives.ReadUInt32LittleEndian(data[30..]);
            colorsUsed = BinaryPrimitives.ReadUInt32LittleEndian(data[46..]);
        }
        // A negative height marks a top-down bitmap.
        bool topDown = height < 0;
        height = Math.Abs(height);
        ImagingLimits.Check(name, width, height);
        int w = (int)width, h = (int)height;

        uint rMask = 0x00FF0000, gMask = 0x0000FF00, bMask = 0x000000FF, aMask = 0;
        if (compression is BiBitfields or BiAlphaBitfields)
        {
            if (bpp != 32) throw new ImageFormatException(name, $"unsupported BMP: {bpp}-bit with bit fields");
            // The masks follow the 40-byte info header (or sit inside a V4/V5 header at the same place).
            int m = 14 + 40;
            if (data.Length < m + 12) throw new ImageFormatException(name, "truncated BMP data (bit masks missing)");
            rMask = BinaryPrimitives.ReadUInt32LittleEndian(data[m..]);
            gMask = BinaryPrimitives.ReadUInt32LittleEndian(data[(m + 4)..]);
            bMask = BinaryPrimitives.ReadUInt32LittleEndian(data[(m + 8)..]);
            if ((headerSize >= 56 || compression == BiAlphaBitfields) && data.Length >= m + 16)
                aMask = BinaryPrimitives.ReadUInt32LittleEndian(data[(m + 12)..]);
            if (rMask != 0x00FF0000 || gMask != 0x0000FF00 || bMask != 0x000000FF || aMask is not (0 or 0xFF000000))
                throw new ImageFormatException(name, "unsupported BMP: 32-bit with non-standard bit masks");
        }
        else if (compression != BiRgb)
        {
            throw new ImageFormatException(name, $"unsupported BMP: compressed (method {compression}); only uncompressed BMP is read");
        }
        if (bpp is not (8 or 24 or 32))
            throw new ImageFormatException(name, $"unsupported BMP: {bpp} bits per pixel (only 8, 24 and 32 are read)");

        long rowBytes = ((long)w * bpp + 31) / 32 * 4;
        if (pixelOffset + rowBytes * h > data.Length)
            throw new ImageFormatException(name, $"truncated BMP data (needs {pixelOffset + rowBytes * h} bytes, has {data.Length})");

        // Palette: BGRX quads (BGR triples for the OS/2 header) right after the info header.
        ReadOnlySpan<byte> palette = default;
        int palEntry = headerSize == 12 ? 3 : 4, palCount = 0;
        if (bpp == 8)
        {
            palCount = colorsUsed is 0 or > 256 ? 256 : (int)colorsUsed;
            int palStart = 14 + headerSize + (compression == BiBitfields ? 12 : 0);
            palCount = Math.Min(palCount, Math.Max(0, ((int)pixelOffset - palStart) / palEntry));
            palette = data.Slice(palStart, palCount * palEntry);
        }
        bool gray = bpp == 8 && IsGrayPalette(palette, palEntry, palCount);
        // 32-bit BI_RGB leaves the 4th byte undefined (often 0), so it is alpha only when a mask says so.
        bool alpha = bpp == 32 && aMask != 0;
        int ch = gray ? 1 : alpha ? 4 : 3;
        int n = w * h;
        var dst = new float[ch * n];
        for (int y = 0; y < h; y++)
        {
            int srcRow = topDown ? y : h - 1 - y;
            ReadOnlySpan<byte> row = data.Slice((int)(pixelOffset + rowBytes * srcRow), (int)rowBytes);
            for (int x = 0; x < w; x++)
            {
                int p = y * w + x;
                if (bpp == 8)
                {
                    int idx = row[x];
                    if (idx >= palCount) throw new ImageFormatException(name, $"corrupt BMP data: palette index {idx} of {palCount}");
                    ReadOnlySpan<byte> e = palette.Slice(idx * palEntry, 3);
                    if (gray) { dst[p] = e[0] / 255f; continue; }
                    dst[p] = e[2] / 255f; dst[n + p] = e[1] / 255f; dst[2 * n + p] = e[0] / 255f;
                }
                else
                {
                    int o = x * (bpp / 8);
                    dst[p] = row[o + 2] / 255f; dst[n + p] = row[o + 1] / 255f; dst[2 * n + p] = row[o] / 255f;
                    if (alpha) dst[3 * n + p] = row[o + 3] / 255f;
                }
            }
        }
        return new Image(w, h, ch, dst, 8);
    }

    private static bool IsGrayPalette(ReadOnlySpan<byte> pal, int entry, int count)
    {
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> e = pal.Slice(i * entry, 3);
            if (e[0] != e[1] || e[1] != e[2]) return false;
        }
        return true;
    }

    /// <summary>Encodes a gray or RGB image as a 24-bit bottom-up BMP (alpha is refused; split it off first).</summary>
    /// <param name="image">Gray or RGB image.</param>
    public static byte[] Encode(Image image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.HasAlpha)
            throw new ArgumentException("24-bit BMP cannot store alpha; call SplitAlpha() first", nameof(image));
        Image rgb = image.Channels == 1 ? image.ToRgb() : image;
        int w = rgb.Width, h = rgb.Height, rowBytes = (w * 3 + 3) / 4 * 4;
        long size = 54L + (long)rowBytes * h;
        if (size > int.MaxValue) throw new ArgumentException("image too large for BMP", nameof(image));
        var buf = new byte[size];
        buf[0] = (byte)'B'; buf[1] = (byte)'M';
        BinaryPrimitives.WriteUInt32LittleEndian(buf.AsSpan(2), (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(buf.AsSpan(10), 54);
        BinaryPrimitives.WriteUInt32LittleEndian(buf.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(buf.AsSpan(18), w);
        BinaryPrimitives.WriteInt32LittleEndian(buf.AsSpan(22), h);
        BinaryPrimitives.WriteUInt16LittleEndian(buf.AsSpan(26), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(buf.AsSpan(28), 24);
        BinaryPrimitives.WriteUInt32LittleEndian(buf.AsSpan(34), (uint)(rowBytes * h));
        byte[] px = rgb.ToInterleaved8();
        for (int y = 0; y < h; y++)
        {
            int dst = 54 + (h - 1 - y) * rowBytes;
            for (int x = 0; x < w; x++)
            {
                int s = (y * w + x) * 3;
                buf[dst + 3 * x] = px[s + 2]; buf[dst + 3 * x + 1] = px[s + 1]; buf[dst + 3 * x + 2] = px[s];
            }
        }
        return buf;
    }
}
