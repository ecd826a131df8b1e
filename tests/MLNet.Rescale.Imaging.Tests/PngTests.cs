
namespace MLNet.Rescale.Imaging.Tests;

public class PngTests
{
    private static Image Random8(int w, int h, int c, int seed)
    {
        var rnd = new Random(seed);
        var bytes = new byte[w * h * c];
        rnd.NextBytes(bytes);
        return Image.FromInterleaved8(bytes, w, h, c);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void Eight_bit_round_trip_is_exact(int channels)
    {
        Image img = Random8(23, 17, channels, channels);
        Image back = Png.Decode(Png.Encode(img), "rt.png");
        Assert.Equal((img.Width, img.Height, img.Channels, 8), (back.Width, back.Height, back.Channels, back.BitDepth));
        Assert.Equal(img.Data, back.Data);
    }

    [Fact]
    public void Gray_alpha_png_reads_as_rgba_with_alpha_kept()
    {
        var rnd = new Random(5);
        var ga = new byte[9 * 7 * 2];
        rnd.NextBytes(ga);
        byte[] png = PngStream.Write(9, 7, PngStream.GrayAlpha, 8, ga);
        Image img = Png.Decode(png, "ga.png");
        Assert.Equal(4, img.Channels);
        int n = 63;
        for (int p = 0; p < n; p++)
        {
            for (int c = 0; c < 3; c++) Assert.Equal(ga[2 * p] / 255f, img.Data[c * n + p]);
            Assert.Equal(ga[2 * p + 1] / 255f, img.Data[3 * n + p]);
        }
        Image rgb = img.SplitAlpha(out Image? alpha);
        Assert.Equal(3, rgb.Channels);
        Assert.NotNull(alpha);
        Assert.Equal(img.Data.AsSpan(3 * n, n).ToArray(), alpha!.Data);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Sixteen_bit_round_trip_is_exact_without_gamma_conversion(int channels)
    {
        var rnd = new Random(7);
        var px = new ushort[19 * 11 * channels];
        for (int i = 0; i < px.Length; i++) px[i] = (ushort)rnd.Next(65536);
        px[0] = 0; px[1] = 65535; px[2] = 1; px[3] = 32768; // extremes and mid-scale survive exactly
        Image img = Image.FromInterleaved16(px, 19, 11, channels);
        byte[] png = Png.Encode(img, 16);
        Image back = Png.Decode(png, "16.png");
        Assert.Equal(16, back.BitDepth);
        Assert.Equal(px, back.ToInterleaved16());
        // Our writer tags no gamma: the values are raw code values.
        Assert.False(ContainsChunk(png, "gAMA"u8));
    }

    [Fact]
    public void Sixteen_bit_rgba_round_trip_is_exact_with_straight_alpha()
    {
        var rnd = new Random(8);
        var px = new ushort[13 * 9 * 4];
        for (int i = 0; i < px.Length; i++) px[i] = (ushort)rnd.Next(65536);
        for (int p = 0; p < 13 * 9; p++) px[4 * p + 3] = p % 2 == 0 ? (ushort)65535 : (ushort)rnd.Next(8192, 65536);
        Image back = Png.Decode(Png.Encode(Image.FromInterleaved16(px, 13, 9, 4), 16), "16a.png");
        // Our 16-bit PNG stores straight alpha and reads it back as stored: no premultiplication round trip.
        Assert.Equal(px, back.ToInterleaved16());
    }

    [Fact]
    public void Palette_png_is_expanded_to_rgb()
    {
        byte[] colormap = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30];
        var idx = new byte[8 * 5];
        for (int i = 0; i < idx.Length; i++) idx[i] = (byte)(i % 4);
        byte[] png = PngStream.Write(8, 5, PngStream.Palette, 8, idx, colormap);
        Assert.True(ContainsChunk(png, "PLTE"u8));
        Image img = Png.Decode(png, "pal.png");
        Assert.Equal(3, img.Channels);
        byte[] hwc = img.ToInterleaved8();
        for (int i = 0; i < idx.Length; i++)
            for (int c = 0; c < 3; c++) Assert.Equal(colormap[idx[i] * 3 + c], hwc[i * 3 + c]);
    }

    [Fact]
    public void Gamma_chunks_do_not_change_8_bit_values()
    {
        Image img = Random8(6, 4, 3, 9);
        byte[] png = Png.Encode(img);
        // Insert a gAMA of 1.0 (linear) after IHDR: libpng's simplified API would otherwise re-encode
        // the samples to sRGB; the decoder must strip it and return the stored values.
        byte[] withGamma = InsertChunkAfterIhdr(png, "gAMA"u8, [0x00, 0x01, 0x86, 0xA0]);
        Assert.Equal(img.Data, Png.Decode(withGamma, "gamma.png").Data);
    }

    [Fact]
    public void Real_fixture_reads_as_8_bit_rgb()
    {
        Image img = ImageFile.Read(Fixtures.Image("butterfly.png"));
        Assert.Equal((256, 256, 3, 8), (img.Width, img.Height, img.Channels, img.BitDepth));
        Assert.InRange(img.Data.Average(), 0.1, 0.9);
    }

    internal static bool ContainsChunk(byte[] png, ReadOnlySpan<byte> type)
    {
        int pos = 8;
        while (pos + 8 <= png.Length)
        {
            int len = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            if (png.AsSpan(pos + 4, 4).SequenceEqual(type)) return true;
            pos += 12 + len;
        }
        return false;
    }

    internal static byte[] InsertChunkAfterIhdr(byte[] png, ReadOnlySpan<byte> type, byte[] payload)
    {
        const int afterIhdr = 8 + 12 + 13;
        var chunk = new byte[12 + payload.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(chunk, payload.Length);
        type.CopyTo(chunk.AsSpan(4));
        payload.CopyTo(chunk, 8);
        uint crc = Crc32(chunk.AsSpan(4, 4 + payload.Length));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + payload.Length), crc);
        return [.. png.AsSpan(0, afterIhdr), .. chunk, .. png.AsSpan(afterIhdr)];
    }

    // PNG's CRC-32 (ISO 3309, reflected 0xEDB88320) so tests can forge chunks.
    internal static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    /// A syntactically valid PNG whose IHDR claims the given size (with a tiny, meaningless IDAT).
    internal static byte[] PngWithHeader(uint width, uint height)
    {
        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(ihdr, width);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
        byte[] sig = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        return [.. sig, .. Chunk("IHDR"u8, ihdr), .. Chunk("IDAT"u8, [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]), .. Chunk("IEND"u8, [])];
    }

    internal static byte[] Chunk(ReadOnlySpan<byte> type, byte[] payload)
    {
        var chunk = new byte[12 + payload.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(chunk, payload.Length);
        type.CopyTo(chunk.AsSpan(4));
        payload.CopyTo(chunk, 8);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + payload.Length), Crc32(chunk.AsSpan(4, 4 + payload.Length)));
        return chunk;
    }
}
