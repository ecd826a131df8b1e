using System.Buffers.Binary;

namespace MLNet.Rescale.Imaging.Tests;

/// <summary>
/// Images from strangers: a corpus of mutations of real encoded images (generated here, deterministically,
/// never committed) and hand-made hostile headers. Every input must either decode to a sane image or fail
/// with <see cref="ImageFormatException"/> naming the input; any other exception type, a crash of the test
/// process (libjpeg's exit(), a libpng longjmp through managed frames) or a hang fails the run.
/// </summary>
public class HostileImageTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>Mutations generated per base file; with the bases below this gives the corpus size.</summary>
    private const int MutationsPerBase = 100;

    /// <summary>A real image (a 64×48 crop of the butterfly fixture) encoded in every variant we read.</summary>
    internal static List<(string Name, byte[] Bytes)> BaseFiles()
    {
        Image full = ImageFile.Read(Fixtures.Image("butterfly.png"));
        Image rgb = Crop(full, 40, 60, 64, 48);
        int n = rgb.PlaneSize;
        var rgba = new float[4 * n];
        Array.Copy(rgb.Data, rgba, 3 * n);
        for (int p = 0; p < n; p++) rgba[3 * n + p] = (p % 64) / 63f;
        var withAlpha = new Image(64, 48, 4, rgba);
        byte[] gray8 = rgb.ToInterleaved8().Where((_, i) => i % 3 == 1).ToArray();
        var grayAlpha = new byte[2 * n];
        for (int p = 0; p < n; p++) { grayAlpha[2 * p] = gray8[p]; grayAlpha[2 * p + 1] = (byte)(255 - p % 256); }

        return
        [
            ("rgb8.png", Png.Encode(rgb)),
            ("rgba16.png", Png.Encode(new Image(64, 48, 4, rgba, 16), 16)),
            ("palette.png", PaletteEncode(rgb)),
            ("grayalpha.png", PngStream.Write(64, 48, PngStream.GrayAlpha, 8, grayAlpha)),
            ("q90-420.jpg", Jpeg.Encode(rgb, 90)),
            ("q75-444.jpg", Jpeg.Encode(rgb, 75, JpegSubsampling.Yuv444)),
            ("cmyk.jpg", CmykJpeg()),
            ("lossy.webp", Webp.Encode(rgb, 80)),
            ("lossless-alpha.webp", Webp.Encode(withAlpha, 100, lossless: true)),
            ("rgb24.bmp", Bmp.Encode(rgb)),
        ];
    }

    [Fact]
    public void Every_base_file_decodes()
    {
        foreach (var (name, bytes) in BaseFiles())
        {
            Image img = ImageFile.Decode(bytes, name);
            Assert.Equal((64, 48), (img.Width, img.Height));
        }
    }

    [Fact]
    public async Task Mutation_corpus_decodes_or_fails_with_a_clear_error()
    {
        var bases = BaseFiles();
        int decoded = 0, refused = 0;
        var wrong = new List<string>();
        var run = Task.Run(() =>
        {
            foreach (var (baseName, bytes) in bases)
            {
                var rnd = new Random(StableSeed(baseName));
                for (int i = 0; i < MutationsPerBase; i++)
                {
                    var (kind, mutated) = Mutate(bytes, baseName, i, rnd);
                    string name = $"mut{i:000}-{kind}-{baseName}";
                    try
                    {
                        Image img = ImageFile.Decode(mutated, name);
                        // A mutation that still decodes must give a sane image within the limits.
                        if ((long)img.Width * img.Height > ImagingLimits.MaxPixels || img.Data.Length != img.Channels * img.PlaneSize
                            || img.Data.Any(v => !float.IsFinite(v) || v < 0 || v > 1))
                            lock (wrong) wrong.Add($"{name}: decoded to an insane image {img.Width}×{img.Height}×{img.Channels}");
                        else Interlocked.Increment(ref decoded);
                    }
                    catch (ImageFormatException e) when (e.Message.StartsWith(name + ": ", StringComparison.Ordinal) && e.Problem.Length > 5)
                    {
                        Interlocked.Increment(ref refused);
                    }
                    catch (Exception e)
                    {
                        lock (wrong) wrong.Add($"{name}: {e.GetType().Name}: {e.Message}");
                    }
                }
            }
        });
        // A hang guard, not a speed requirement: the whole corpus decodes in about a second.
        Assert.True(await Task.WhenAny(run, Task.Delay(TimeSpan.FromMinutes(3))) == run, "decoding the mutation corpus hung");
        await run;
        output.WriteLine($"{bases.Count * MutationsPerBase} mutations of {bases.Count} files: {decoded} decoded, {refused} refused with ImageFormatException");
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        Assert.Equal(bases.Count * MutationsPerBase, decoded + refused);
        Assert.True(bases.Count * MutationsPerBase >= 500);
        // The corpus must actually exercise the error paths (most mutations break the file)...
        Assert.True(refused > bases.Count * MutationsPerBase / 3, $"only {refused} of {bases.Count * MutationsPerBase} mutations were refused");
        // ...and include damage the decoders tolerate (a flipped bit in JPEG/WebP entropy data is still an image).
        Assert.True(decoded > 0, "no mutation decoded");
    }

    private static int StableSeed(string s)
    {
        int h = 17;
        foreach (char c in s) h = h * 31 + c;
        return h;
    }

    /// <summary>One deterministic mutation of <paramref name="data"/>: truncation, bit flips, byte overwrites or a header field edit.</summary>
    internal static (string Kind, byte[] Bytes) Mutate(byte[] data, string baseName, int index, Random rnd)
    {
        switch (index % 5)
        {
            case 0:
            {
                // Truncation: anywhere, with extra weight on the header and the very end.
                int keep = (index / 5 % 3) switch
                {
                    0 => rnd.Next(0, Math.Min(64, data.Length)),
                    1 => data.Length - 1 - rnd.Next(0, Math.Min(16, data.Length - 1)),
                    _ => rnd.Next(1, data.Length),
                };
                return ("cut", data[..keep]);
            }
            case 1:
            {
                var b = (byte[])data.Clone();
                int flips = 1 + rnd.Next(8);
                for (int f = 0; f < flips; f++) b[rnd.Next(b.Length)] ^= (byte)(1 << rnd.Next(8));
                return ("flip", b);
            }
            case 2:
            {
                var b = (byte[])data.Clone();
                int start = rnd.Next(b.Length), len = Math.Min(b.Length - start, 1 + rnd.Next(32));
                byte fill = (index / 5 % 4) switch { 0 => 0x00, 1 => 0xFF, 2 => (byte)rnd.Next(256), _ => 0x7F };
                if (index / 5 % 4 == 2) rnd.NextBytes(b.AsSpan(start, len));
                else b.AsSpan(start, len).Fill(fill);
                return ("overwrite", b);
            }
            default:
                return ("header", EditHeader(data, baseName, rnd));
        }
    }

    private static readonly uint[] Interesting = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x3FFF, 0x4000, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF];

    /// <summary>Overwrites a field of the format's header with an extreme value (PNG chunks get a valid CRC so the edit reaches the decoder).</summary>
    private static byte[] EditHeader(byte[] data, string baseName, Random rnd)
    {
        var b = (byte[])data.Clone();
        uint v = Interesting[rnd.Next(Interesting.Length)];
        string ext = Path.GetExtension(baseName);
        if (ext == ".png")
        {
            // IHDR fields (width, height, depth, colour type, compression, filter, interlace) or a chunk length.
            int[] fields = [16, 20, 24, 25, 26, 27, 28, 8, 33];
            int at = fields[rnd.Next(fields.Length)];
            if (at is >= 24 and <= 28) b[at] = (byte)v;
            else BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(at), v);
            if (rnd.Next(4) > 0) FixPngCrcs(b);
            return b;
        }
        if (ext == ".jpg")
        {
            // A 16-bit field of some marker segment: its length, or for SOF its precision/height/width/components.
            var segments = JpegSegments(b);
            var (pos, marker) = segments[rnd.Next(segments.Count)];
            int off = marker is 0xC0 or 0xC1 or 0xC2 ? new[] { 2, 4, 5, 7, 9, 11 }[rnd.Next(6)] : 2 + 2 * rnd.Next(3);
            if (pos + off + 2 <= b.Length) BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(pos + off), (ushort)v);
            return b;
        }
        if (ext == ".webp")
        {
            // RIFF size, chunk size, VP8 frame tag / key-frame start code / 14-bit sizes, VP8L signature and size bits.
            int[] fields = [4, 16, 20, 23, 26, 28, 21, 25];
            int at = fields[rnd.Next(fields.Length)];
            if (at + 4 <= b.Length) BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
            return b;
        }
        // BMP: file size, pixel offset, header size, width, height, planes, bpp, compression, image size, colours used.
        int[] bmp = [2, 10, 14, 18, 22, 26, 28, 30, 34, 46];
        int f = bmp[rnd.Next(bmp.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(f), f is 26 or 28 ? (v & 0xFFFF) | (BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(f)) & 0xFFFF0000) : v);
        return b;
    }

    /// <summary>(offset of the FF, marker byte) of every segment before the scan data.</summary>
    private static List<(int Pos, int Marker)> JpegSegments(byte[] b)
    {
        var list = new List<(int, int)>();
        int p = 2;
        while (p + 4 <= b.Length && b[p] == 0xFF)
        {
            int marker = b[p + 1];
            list.Add((p, marker));
            if (marker == 0xDA) break;
            p += 2 + BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(p + 2));
        }
        return list;
    }

    private static void FixPngCrcs(byte[] b)
    {
        int p = 8;
        while (p + 12 <= b.Length)
        {
            uint len = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(p));
            if (len > b.Length - p - 12) return;
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(p + 8 + (int)len), PngTests.Crc32(b.AsSpan(p + 4, 4 + (int)len)));
            p += 12 + (int)len;
        }
    }

    [Theory]
    [InlineData("png")]
    [InlineData("jpg")]
    [InlineData("webp")]
    [InlineData("bmp")]
    public void One_by_one_images_decode(string ext)
    {
        using var dir = new TempDir();
        var img = new Image(1, 1, 3, [0.2f, 0.6f, 1f]);
        string path = dir.File("one." + ext);
        ImageFile.Write(img, path, new ImageWriteOptions { Quality = 100, WebpLossless = true, JpegSubsampling = JpegSubsampling.Yuv444 });
        Image back = ImageFile.Read(path);
        Assert.Equal((1, 1, 3), (back.Width, back.Height, back.Channels));
        // Lossless formats give the value back exactly; JPEG at q100 4:4:4 within a couple of levels.
        float tol = ext == "jpg" ? 3 / 255f : 0;
        for (int c = 0; c < 3; c++) Assert.InRange(back.Data[c], img.Data[c] - tol - 1e-6f, img.Data[c] + tol + 1e-6f);
    }

    [Theory]
    [InlineData("png")]
    [InlineData("jpg")]
    [InlineData("webp")]
    [InlineData("bmp")]
    public void Zero_byte_files_are_refused_as_empty(string ext)
    {
        using var dir = new TempDir();
        string path = dir.File("zero." + ext);
        File.WriteAllBytes(path, []);
        var ex = Assert.Throws<ImageFormatException>(() => ImageFile.Read(path));
        Assert.Equal($"{path}: file is empty (0 bytes)", ex.Message);
    }

    [Theory]
    [InlineData("text.png", "hello, this is not an image at all\n")]
    [InlineData("html.jpg", "<!DOCTYPE html><html><body>404 Not Found</body></html>")]
    [InlineData("json.webp", "{\"error\": \"rate limited\"}")]
    [InlineData("riff.webp", "RIFF\u0004\0\0\0WAVEfmt ")]
    [InlineData("bm.bmp", "BM not really a bitmap header")]
    public void Non_image_bytes_with_an_image_extension_are_refused(string file, string content)
    {
        using var dir = new TempDir();
        string path = dir.File(file);
        File.WriteAllText(path, content);
        var ex = Assert.Throws<ImageFormatException>(() => ImageFile.Read(path));
        Assert.Equal($"{path}: not a PNG, JPEG, WebP or BMP file", ex.Message);
    }

    /// <summary>Headers claiming an image far beyond memory, in every format; refused before any pixel buffer exists.</summary>
    public static TheoryData<string> Bombs => new() { "png", "jpg", "webp", "bmp" };

    internal static byte[] Bomb(string ext)
    {
        Image small = new(16, 16, 3);
        switch (ext)
        {
            case "png":
                return PngTests.PngWithHeader(200_000, 200_000);
            case "jpg":
            {
                // 65,000 × 65,000 (4.2 gigapixels) in the SOF0 segment of a real JPEG.
                byte[] b = Jpeg.Encode(small, 90);
                var (pos, _) = JpegSegments(b).First(s => s.Marker == 0xC0);
                BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(pos + 5), 65000);
                BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(pos + 7), 65000);
                return b;
            }
            case "webp":
            {
                // Lossless WebP holds 14-bit sizes: 16384 × 16384 = 268 megapixels.
                byte[] b = Webp.Encode(small, 100, lossless: true);
                Assert.Equal("VP8L", System.Text.Encoding.ASCII.GetString(b, 12, 4));
                uint bits = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(21));
                bits = (bits & 0xF0000000) | 0x3FFF | (0x3FFFu << 14);
                BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(21), bits);
                return b;
            }
            default:
            {
                byte[] b = Bmp.Encode(small);
                BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), 1_000_000);
                BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), -1_000_000);
                return b;
            }
        }
    }

    [Theory]
    [MemberData(nameof(Bombs))]
    public void Decompression_bombs_are_refused_before_allocating(string ext)
    {
        byte[] bomb = Bomb(ext);
        string name = "bomb." + ext;
        // First call warms up type initializers and caches so that the measured call allocates only what decoding does.
        Assert.Throws<ImageFormatException>(() => ImageFile.Decode(bomb, name));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<ImageFormatException>(() => ImageFile.Decode(bomb, name));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.StartsWith(name + ": image is ", ex.Message);
        Assert.Contains($"above the limit of {ImagingLimits.MaxPixels}", ex.Message);
        Assert.Contains("ImagingLimits.MaxPixels", ex.Message);
        // The claimed image needs gigabytes of samples; the refusal costs at most a copy of the (tiny) file and the message.
        Assert.True(allocated < 64 * 1024 + 4L * bomb.Length, $"refusing {name} allocated {allocated} bytes");
    }

    private static Image Crop(Image img, int x0, int y0, int w, int h)
    {
        var data = new float[img.Channels * w * h];
        for (int c = 0; c < img.Channels; c++)
        for (int y = 0; y < h; y++)
            img.GetChannel(c).Slice((y0 + y) * img.Width + x0, w).CopyTo(data.AsSpan((c * h + y) * w, w));
        return new Image(w, h, img.Channels, data);
    }

    /// <summary>A palette PNG of the image reduced to 3-3-2 bit colour (256 entries).</summary>
    private static byte[] PaletteEncode(Image rgb)
    {
        byte[] px = rgb.ToInterleaved8();
        var idx = new byte[rgb.PlaneSize];
        for (int p = 0; p < idx.Length; p++)
            idx[p] = (byte)((px[3 * p] >> 5 << 5) | (px[3 * p + 1] >> 5 << 2) | (px[3 * p + 2] >> 6));
        var map = new byte[256 * 3];
        for (int i = 0; i < 256; i++)
        {
            map[3 * i] = (byte)((i >> 5) * 255 / 7);
            map[3 * i + 1] = (byte)((i >> 2 & 7) * 255 / 7);
            map[3 * i + 2] = (byte)((i & 3) * 255 / 3);
        }
        return PngStream.Write(rgb.Width, rgb.Height, PngStream.Palette, 8, idx, map);
    }

    /// <summary>An Adobe-style (inverted) CMYK JPEG of the same 64×48 crop, written by TurboJPEG when the codecs used it (tests/fixtures/codecs).</summary>
    private static byte[] CmykJpeg() => File.ReadAllBytes(Fixtures.Codec("cmyk-butterfly.jpg"));
}
