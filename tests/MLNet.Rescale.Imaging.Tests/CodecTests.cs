using Xunit.Abstractions;

namespace MLNet.Rescale.Imaging.Tests;

public class CodecTests(ITestOutputHelper output)
{
    private static Image Butterfly() => ImageFile.Read(Fixtures.Image("butterfly.png"));

    [Fact]
    public void Jpeg_quality_75_keeps_psnr_above_30_and_higher_quality_is_larger()
    {
        Image img = Butterfly();
        byte[] q75 = Jpeg.Encode(img, 75);
        byte[] q95 = Jpeg.Encode(img, 95);
        Image back = Jpeg.Decode(q75, "q75.jpg");
        double psnr = Metrics.Psnr(img, back);
        output.WriteLine($"JPEG q75: {q75.Length} bytes, PSNR {psnr:F2} dB; q95: {q95.Length} bytes");
        Assert.Equal((img.Width, img.Height, 3), (back.Width, back.Height, back.Channels));
        Assert.True(psnr > 30, $"PSNR {psnr:F2}");
        Assert.True(q95.Length > q75.Length);
        Assert.Equal(back.Data, Jpeg.RoundTrip(img, 75).Data); // deterministic
    }

    [Fact]
    public void Jpeg_gray_round_trip_stays_gray()
    {
        Image gray = new(256, 256, 1, Butterfly().GetChannel(1).ToArray());
        Image back = Jpeg.RoundTrip(gray, 90);
        Assert.Equal(1, back.Channels);
        Assert.True(Metrics.Psnr(gray, back) > 30);
    }

    [Fact]
    public void Jpeg_refuses_alpha_and_bad_quality()
    {
        Assert.Throws<ArgumentException>(() => Jpeg.Encode(new Image(8, 8, 4), 90));
        Assert.Throws<ArgumentOutOfRangeException>(() => Jpeg.Encode(new Image(8, 8, 3), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Jpeg.Encode(new Image(8, 8, 3), 101));
    }

    [Fact]
    public void Webp_quality_75_keeps_psnr_above_30_and_higher_quality_is_larger()
    {
        Image img = Butterfly();
        byte[] q75 = Webp.Encode(img, 75);
        byte[] q95 = Webp.Encode(img, 95);
        Image back = Webp.Decode(q75, "q75.webp");
        double psnr = Metrics.Psnr(img, back);
        output.WriteLine($"WebP q75: {q75.Length} bytes, PSNR {psnr:F2} dB; q95: {q95.Length} bytes");
        Assert.True(psnr > 30, $"PSNR {psnr:F2}");
        Assert.True(q95.Length > q75.Length);
        Assert.Equal(3, Webp.RoundTrip(img, 75).Channels);
    }

    [Fact]
    public void Webp_lossless_rgba_round_trip_is_exact()
    {
        var rnd = new Random(4);
        var bytes = new byte[31 * 17 * 4];
        rnd.NextBytes(bytes);
        for (int p = 0; p < 31 * 17; p++) bytes[4 * p + 3] |= 1; // libwebp may alter colour under alpha = 0
        Image img = Image.FromInterleaved8(bytes, 31, 17, 4);
        Image back = ImageFile.Decode(ImageFile.Encode(img, ImageFormat.Webp, new ImageWriteOptions { WebpLossless = true }), "ll.webp");
        Assert.Equal(4, back.Channels);
        Assert.Equal(img.Data, back.Data);
    }

    [Fact]
    public void Bmp_round_trip_and_detection()
    {
        Image img = Butterfly().Crop(10, 20, 33, 21); // odd width exercises row padding
        byte[] bmp = Bmp.Encode(img);
        Assert.Equal(ImageFormat.Bmp, ImageFile.DetectFormat(bmp));
        Assert.Equal(img.Data, ImageFile.Decode(bmp, "x.bmp").Data);
    }

    [Fact]
    public void Files_round_trip_through_every_extension()
    {
        using var dir = new TempDir();
        Image img = Butterfly();
        foreach (string name in new[] { "a.png", "a.jpg", "a.jpeg", "a.webp", "a.bmp" })
        {
            string path = dir.File(name);
            ImageFile.Write(img, path, new ImageWriteOptions { Quality = 90 });
            Image back = ImageFile.Read(path);
            Assert.Equal((img.Width, img.Height), (back.Width, back.Height));
            Assert.True(Metrics.Psnr(img, back) > 30, name);
        }
        Assert.Throws<ArgumentException>(() => ImageFile.Write(img, dir.File("a.tiff")));
    }

    [Fact]
    public void Png_16_bit_option_writes_16_bit()
    {
        using var dir = new TempDir();
        Image img = Butterfly();
        ImageFile.Write(img, dir.File("b.png"), new ImageWriteOptions { PngBitDepth = 16 });
        Image back = ImageFile.Read(dir.File("b.png"));
        Assert.Equal(16, back.BitDepth);
        Assert.Equal(img.ToInterleaved8(), back.ToInterleaved8());
    }
}

/// <summary>
/// The codecs moved from Debian's libjpeg-turbo, libpng and libwebp to SkiaSharp and a managed 16-bit PNG; these keep
/// the answers of that move, against files the system libraries wrote (tests/fixtures/codecs/README.md).
/// </summary>
public class CodecIdentityTests
{
    [Theory]
    [InlineData("q75-420", 75, JpegSubsampling.Yuv420)]
    [InlineData("q30-420", 30, JpegSubsampling.Yuv420)]
    [InlineData("q90-444", 90, JpegSubsampling.Yuv444)]
    public void Jpeg_encoding_gives_the_pixels_of_TurboJPEG_accurate_DCT(string tag, int quality, JpegSubsampling subsampling)
    {
        var source = ImageFile.Read(Fixtures.Codec("source.png"));
        var expected = ImageFile.Read(Fixtures.Codec($"turbojpeg-{tag}.png"));
        Assert.Equal(expected.Data, Jpeg.RoundTrip(source, quality, subsampling).Data);
        // And TurboJPEG's own stream decodes to the same pixels.
        Assert.Equal(expected.Data, ImageFile.Read(Fixtures.Codec($"turbojpeg-{tag}.jpg")).Data);
    }

    [Fact]
    public void Grey_jpeg_stays_grey_and_matches_TurboJPEG()
    {
        var source = ImageFile.Read(Fixtures.Codec("source.png"));
        var gray = new Image(source.Width, source.Height, 1, source.GetChannel(1).ToArray());
        var expected = ImageFile.Read(Fixtures.Codec("turbojpeg-gray-q75.png"));
        var ours = Jpeg.RoundTrip(gray, 75);
        Assert.Equal(1, ours.Channels);
        Assert.Equal(expected.Data, ours.Data);
        Assert.Equal(expected.Data, ImageFile.Read(Fixtures.Codec("turbojpeg-gray-q75.jpg")).Data);
    }

    [Fact]
    public void Adobe_cmyk_jpeg_is_converted_to_rgb()
    {
        // Stored C', M', Y' = 200, 100, 30 with K' = 255 (no black ink): RGB 200, 100, 30.
        Image img = ImageFile.Read(Fixtures.Codec("cmyk-adobe.jpg"));
        Assert.Equal(3, img.Channels);
        byte[] rgb = img.ToInterleaved8();
        Assert.InRange(rgb[0], 197, 203);
        Assert.InRange(rgb[1], 97, 103);
        Assert.InRange(rgb[2], 27, 33);
    }

    [Theory]
    [InlineData("gray16", 1)]
    [InlineData("rgb16", 3)]
    public void Sixteen_bit_pngs_written_by_libpng_read_exactly(string tag, int channels)
    {
        var img = ImageFile.Read(Fixtures.Codec($"libpng-{tag}.png"));
        Assert.Equal((16, channels, 13, 9), (img.BitDepth, img.Channels, img.Width, img.Height));
        byte[] raw = File.ReadAllBytes(Fixtures.Codec($"libpng-{tag}.raw"));
        var expected = Enumerable.Range(0, raw.Length / 2).Select(i => (ushort)(raw[2 * i] << 8 | raw[2 * i + 1])).ToArray();
        Assert.Equal(expected, img.ToInterleaved16());
    }

    [Fact]
    public void Grey_alpha_and_palette_pngs_written_by_libpng_read_exactly()
    {
        var ga = ImageFile.Read(Fixtures.Codec("libpng-grayalpha8.png"));
        byte[] raw = File.ReadAllBytes(Fixtures.Codec("libpng-grayalpha8.raw"));
        Assert.Equal(4, ga.Channels);
        byte[] rgba = ga.ToInterleaved8();
        for (int p = 0; p < 9 * 7; p++)
            Assert.Equal([raw[2 * p], raw[2 * p], raw[2 * p], raw[2 * p + 1]], rgba.AsSpan(4 * p, 4).ToArray());
        var palette = ImageFile.Read(Fixtures.Codec("libpng-palette.png"));
        byte[] colormap = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30];
        byte[] px = palette.ToInterleaved8();
        for (int i = 0; i < 8 * 5; i++)
            Assert.Equal(colormap.AsSpan(i % 4 * 3, 3).ToArray(), px.AsSpan(3 * i, 3).ToArray());
    }

    [Fact]
    public void Interlaced_sixteen_bit_png_reads_like_the_plain_one()
    {
        // Adam7 written by hand: each pass's pixels, filtered with Sub, then compared with the non-interlaced decode.
        var plain = ImageFile.Read(Fixtures.Codec("libpng-rgb16.png"));
        ushort[] px = plain.ToInterleaved16();
        int w = plain.Width, h = plain.Height;
        (int X0, int Y0, int Dx, int Dy)[] passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];
        var raw = new List<byte>();
        foreach (var (x0, y0, dx, dy) in passes)
            for (int y = y0; y < h; y += dy)
            {
                var line = new List<byte>();
                for (int x = x0; x < w; x += dx)
                    for (int c = 0; c < 3; c++) { ushort v = px[(y * w + x) * 3 + c]; line.Add((byte)(v >> 8)); line.Add((byte)v); }
                if (line.Count == 0) continue;
                raw.Add(1); // Sub
                for (int i = 0; i < line.Count; i++) raw.Add((byte)(line[i] - (i >= 6 ? line[i - 6] : 0)));
            }
        byte[] png = InterlacedPng(w, h, raw.ToArray());
        Assert.Equal(px, Png.Decode(png, "adam7.png").ToInterleaved16());
    }

    // A 16-bit RGB PNG with interlace method 1 around already filtered pass data.
    private static byte[] InterlacedPng(int w, int h, byte[] filtered)
    {
        using var z = new MemoryStream();
        using (var deflate = new System.IO.Compression.ZLibStream(z, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true)) deflate.Write(filtered);
        byte[] plain = PngStream.Write(w, h, PngStream.Rgb, 16, new byte[w * h * 6]);
        // Keep the signature and the IHDR of a plain file of the same size, set its interlace byte, and give it these IDATs.
        var ihdr = plain.AsSpan(8, 25).ToArray();
        ihdr[8 + 12] = 1;
        uint crc = Crc(ihdr.AsSpan(4, 17));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(21), crc);
        var file = new List<byte>(plain.AsSpan(0, 8).ToArray());
        file.AddRange(ihdr);
        file.AddRange(Chunk("IDAT"u8, z.ToArray()));
        file.AddRange(Chunk("IEND"u8, []));
        return file.ToArray();
    }

    private static byte[] Chunk(ReadOnlySpan<byte> type, byte[] body)
    {
        var c = new byte[12 + body.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(c, (uint)body.Length);
        type.CopyTo(c.AsSpan(4));
        body.CopyTo(c.AsSpan(8));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(8 + body.Length), Crc(c.AsSpan(4, 4 + body.Length)));
        return c;
    }

    private static uint Crc(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return crc ^ 0xFFFFFFFF;
    }
}
