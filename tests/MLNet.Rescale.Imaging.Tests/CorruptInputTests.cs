// CorruptInputTests lowers the process-wide ImagingLimits.MaxPixels for one test; run the (fast) imaging tests one at a
// time so no other test reads an image while it is lowered (a CI run failed that way).
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]

namespace MLNet.Rescale.Imaging.Tests;

public class CorruptInputTests
{
    private static byte[] ButterflyPng() => File.ReadAllBytes(Fixtures.Image("butterfly.png"));

    private static ImageFormatException ReadFails(string path)
    {
        var ex = Assert.Throws<ImageFormatException>(() => ImageFile.Read(path));
        Assert.Contains(path, ex.Message);
        Assert.Equal(path, ex.FileName);
        return ex;
    }

    [Fact]
    public void Truncated_png_is_reported_as_truncated()
    {
        using var dir = new TempDir();
        byte[] png = ButterflyPng();
        foreach (int keep in new[] { 8, 20, 33, 100, png.Length / 2, png.Length - 12, png.Length - 1 })
        {
            string path = dir.File($"cut{keep}.png");
            File.WriteAllBytes(path, png[..keep]);
            var ex = ReadFails(path);
            Assert.Contains("truncated PNG data", ex.Message);
        }
    }

    [Fact]
    public void Corrupt_png_idat_gives_libpng_message_not_a_crash()
    {
        using var dir = new TempDir();
        byte[] png = ButterflyPng();
        // Flip bytes inside the compressed data: the CRC check (or zlib) must fail cleanly.
        for (int i = 200; i < 260; i++) png[i] ^= 0x5A;
        string path = dir.File("flipped.png");
        File.WriteAllBytes(path, png);
        var ex = ReadFails(path);
        Assert.Contains("PNG", ex.Message);
    }

    [Fact]
    public void Garbage_named_png_is_not_an_image()
    {
        using var dir = new TempDir();
        string path = dir.File("garbage.png");
        var bytes = new byte[1000];
        new Random(1).NextBytes(bytes);
        bytes[0] = (byte)'x';
        File.WriteAllBytes(path, bytes);
        var ex = ReadFails(path);
        Assert.Contains("not a PNG, JPEG, WebP or BMP file", ex.Message);
    }

    [Fact]
    public void Empty_file_is_reported()
    {
        using var dir = new TempDir();
        string path = dir.File("empty.png");
        File.WriteAllBytes(path, []);
        Assert.Contains("empty", ReadFails(path).Message);
    }

    [Fact]
    public void Huge_png_header_is_refused_before_allocating()
    {
        using var dir = new TempDir();
        string path = dir.File("huge.png");
        File.WriteAllBytes(path, PngTests.PngWithHeader(100000, 100000));
        var ex = ReadFails(path);
        Assert.Contains("100000×100000", ex.Message);
        Assert.Contains("ImagingLimits.MaxPixels", ex.Message);
    }

    [Fact]
    public void Zero_size_png_header_is_refused()
    {
        var ex = Assert.Throws<ImageFormatException>(() => ImageFile.Decode(PngTests.PngWithHeader(0, 5), "zero.png"));
        Assert.Contains("image is 0×5", ex.Message);
    }

    [Fact]
    public void Limit_can_be_raised_and_lowered()
    {
        long old = ImagingLimits.MaxPixels;
        try
        {
            byte[] png = Png.Encode(new Image(64, 64, 3));
            ImagingLimits.MaxPixels = 1000;
            Assert.Contains("above the limit of 1000", Assert.Throws<ImageFormatException>(() => ImageFile.Decode(png, "x.png")).Message);
            byte[] jpg = Jpeg.Encode(new Image(64, 64, 3), 90);
            Assert.Throws<ImageFormatException>(() => ImageFile.Decode(jpg, "x.jpg"));
            byte[] webp = Webp.Encode(new Image(64, 64, 3), 90);
            Assert.Throws<ImageFormatException>(() => ImageFile.Decode(webp, "x.webp"));
        }
        finally
        {
            ImagingLimits.MaxPixels = old;
        }
    }

    [Fact]
    public void Truncated_and_corrupt_jpeg_fail_cleanly()
    {
        byte[] jpg = Jpeg.Encode(ImageFile.Read(Fixtures.Image("butterfly.png")), 90);
        foreach (int keep in new[] { 3, 50, 300, jpg.Length / 2, jpg.Length - 2 })
        {
            var ex = Assert.Throws<ImageFormatException>(() => ImageFile.Decode(jpg[..keep], $"cut{keep}.jpg"));
            Assert.StartsWith($"cut{keep}.jpg: ", ex.Message);
        }
        var garbage = (byte[])jpg.Clone();
        new Random(2).NextBytes(garbage.AsSpan(20, 400));
        try { ImageFile.Decode(garbage, "garbled.jpg"); }
        catch (ImageFormatException ex) { Assert.StartsWith("garbled.jpg: ", ex.Message); }
    }

    [Fact]
    public void Truncated_and_corrupt_webp_fail_cleanly()
    {
        byte[] webp = Webp.Encode(ImageFile.Read(Fixtures.Image("butterfly.png")), 90);
        foreach (int keep in new[] { 12, 20, 40, webp.Length / 2, webp.Length - 1 })
        {
            var ex = Assert.Throws<ImageFormatException>(() => ImageFile.Decode(webp[..keep], $"cut{keep}.webp"));
            Assert.StartsWith($"cut{keep}.webp: ", ex.Message);
        }
    }

    [Fact]
    public void Truncated_bmp_fails_cleanly()
    {
        byte[] bmp = Bmp.Encode(new Image(10, 10, 3));
        var ex = Assert.Throws<ImageFormatException>(() => ImageFile.Decode(bmp[..100], "cut.bmp"));
        Assert.Contains("truncated BMP data", ex.Message);
    }

    [Fact]
    public void Missing_file_is_an_io_error()
    {
        Assert.ThrowsAny<IOException>(() => ImageFile.Read("/nonexistent/dir/x.png"));
        Assert.IsNotType<ImageFormatException>(Record.Exception(() => ImageFile.Read("/nonexistent/dir/x.png")));
    }
}
