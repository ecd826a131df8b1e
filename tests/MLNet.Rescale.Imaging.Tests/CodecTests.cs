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

public class CmykJpegTests
{
    [Fact]
    public unsafe void Adobe_cmyk_jpeg_is_converted_to_rgb()
    {
        // Build a CMYK JPEG with TurboJPEG itself. Adobe-style inverted storage with K' = 255 (no black
        // ink) means the stored C', M', Y' equal R, G, B.
        const int w = 16, h = 16;
        var cmyk = new byte[w * h * 4];
        for (int p = 0; p < w * h; p++) { cmyk[4 * p] = 200; cmyk[4 * p + 1] = 100; cmyk[4 * p + 2] = 30; cmyk[4 * p + 3] = 255; }
        IntPtr tj = Native.TurboJpeg.InitCompress();
        byte* jpeg = null;
        nuint size = 0;
        try
        {
            fixed (byte* src = cmyk)
                Assert.Equal(0, Native.TurboJpeg.Compress2(tj, src, w, w * 4, h, Native.TurboJpeg.PixelCmyk, &jpeg, &size,
                    Native.TurboJpeg.Samp444, 95, 0));
            byte[] bytes = new ReadOnlySpan<byte>(jpeg, (int)size).ToArray();
            Image img = ImageFile.Decode(bytes, "cmyk.jpg");
            Assert.Equal(3, img.Channels);
            byte[] rgb = img.ToInterleaved8();
            Assert.InRange(rgb[0], 197, 203);
            Assert.InRange(rgb[1], 97, 103);
            Assert.InRange(rgb[2], 27, 33);
        }
        finally
        {
            if (jpeg != null) Native.TurboJpeg.Free(jpeg);
            Native.TurboJpeg.Destroy(tj);
        }
    }
}
