using MLNet.Rescale.Imaging.Native;

namespace MLNet.Rescale.Imaging;

/// <summary>Chroma subsampling used when encoding colour JPEGs.</summary>
public enum JpegSubsampling
{
    /// <summary>4:4:4, no chroma subsampling.</summary>
    Yuv444 = TurboJpeg.Samp444,
    /// <summary>4:2:2, chroma halved horizontally.</summary>
    Yuv422 = TurboJpeg.Samp422,
    /// <summary>4:2:0, chroma halved in both directions (the default of PIL, OpenCV and libjpeg's cjpeg).</summary>
    Yuv420 = TurboJpeg.Samp420,
}

/// <summary>
/// JPEG through libjpeg-turbo's TurboJPEG API: gray and colour (YCbCr/RGB) images; CMYK/YCCK files
/// (Adobe convention, inverted) are converted to RGB. Uses the accurate integer DCT both ways so
/// results are reproducible across machines.
/// </summary>
public static class Jpeg
{
    /// <summary>True when <paramref name="data"/> starts with a JPEG SOI marker.</summary>
    /// <param name="data">The first bytes of a file.</param>
    public static bool IsJpeg(ReadOnlySpan<byte> data) => data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;

    /// <summary>Decodes a JPEG into an 8-bit gray (1-channel) or RGB (3-channel) image.</summary>
    /// <param name="data">The JPEG file contents.</param>
    /// <param name="name">Name used in error messages (usually the path).</param>
    /// <exception cref="ImageFormatException">Corrupt, truncated or oversized data.</exception>
    public static unsafe Image Decode(ReadOnlySpan<byte> data, string name = "<memory>")
    {
        if (!IsJpeg(data)) throw new ImageFormatException(name, "not a JPEG file");
        IntPtr h = TurboJpeg.InitDecompress();
        if (h == IntPtr.Zero) throw new ImageFormatException(name, "could not initialise the TurboJPEG decompressor");
        try
        {
            fixed (byte* src = data)
            {
                int w, ht, subsamp, colorspace;
                if (TurboJpeg.DecompressHeader3(h, src, (nuint)data.Length, &w, &ht, &subsamp, &colorspace) != 0)
                    throw new ImageFormatException(name, $"invalid JPEG header: {TurboJpeg.ErrorMessage(h)}");
                ImagingLimits.Check(name, w, ht);

                bool cmyk = colorspace is TurboJpeg.ColorspaceCmyk or TurboJpeg.ColorspaceYcck;
                bool gray = colorspace == TurboJpeg.ColorspaceGray;
                int pf = cmyk ? TurboJpeg.PixelCmyk : gray ? TurboJpeg.PixelGray : TurboJpeg.PixelRgb;
                int bpp = cmyk ? 4 : gray ? 1 : 3;
                var buf = new byte[checked(w * bpp * ht)];
                fixed (byte* dst = buf)
                {
                    if (TurboJpeg.Decompress2(h, src, (nuint)data.Length, dst, w, w * bpp, ht, pf, TurboJpeg.FlagAccurateDct) != 0)
                        CheckDecodeError(h, name);
                }
                return cmyk ? FromAdobeCmyk(buf, w, ht) : Image.FromInterleaved8(buf, w, ht, bpp);
            }
        }
        finally
        {
            TurboJpeg.Destroy(h);
        }
    }

    /// <summary>Encodes a gray or RGB image as baseline JPEG.</summary>
    /// <param name="image">1- or 3-channel image; RGBA is refused (JPEG has no alpha: call <see cref="Image.SplitAlpha"/>).</param>
    /// <param name="quality">Quality 1..100 (libjpeg scale).</param>
    /// <param name="subsampling">Chroma subsampling for colour images.</param>
    public static unsafe byte[] Encode(Image image, int quality = 95, JpegSubsampling subsampling = JpegSubsampling.Yuv420)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckQuality(quality);
        if (image.HasAlpha)
            throw new ArgumentException("JPEG cannot store alpha; call SplitAlpha() and handle the alpha plane explicitly", nameof(image));
        bool gray = image.Channels == 1;
        byte[] px = image.ToInterleaved8();
        IntPtr h = TurboJpeg.InitCompress();
        if (h == IntPtr.Zero) throw new ImageFormatException("<JPEG encoder>", "could not initialise the TurboJPEG compressor");
        byte* jpeg = null;
        try
        {
            nuint size = 0;
            fixed (byte* src = px)
            {
                if (TurboJpeg.Compress2(h, src, image.Width, image.Width * image.Channels, image.Height,
                        gray ? TurboJpeg.PixelGray : TurboJpeg.PixelRgb, &jpeg, &size,
                        gray ? TurboJpeg.SampGray : (int)subsampling, quality, TurboJpeg.FlagAccurateDct) != 0)
                    throw new ImageFormatException("<JPEG encoder>", $"TurboJPEG failed: {TurboJpeg.ErrorMessage(h)}");
            }
            return new ReadOnlySpan<byte>(jpeg, checked((int)size)).ToArray();
        }
        finally
        {
            if (jpeg != null) TurboJpeg.Free(jpeg);
            TurboJpeg.Destroy(h);
        }
    }

    /// <summary>
    /// Encodes at <paramref name="quality"/> and decodes again: the real codec degradation an LR image
    /// suffers when stored as JPEG. The result is 8-bit.
    /// </summary>
    /// <param name="image">Gray or RGB image.</param>
    /// <param name="quality">Quality 1..100.</param>
    /// <param name="subsampling">Chroma subsampling for colour images.</param>
    public static Image RoundTrip(Image image, int quality, JpegSubsampling subsampling = JpegSubsampling.Yuv420)
        => Decode(Encode(image, quality, subsampling), "<JPEG round trip>");

    internal static void CheckQuality(int quality)
    {
        if (quality is < 1 or > 100)
            throw new ArgumentOutOfRangeException(nameof(quality), quality, "quality must be in 1..100");
    }

    private static void CheckDecodeError(IntPtr h, string name)
    {
        string msg = TurboJpeg.ErrorMessage(h);
        if (TurboJpeg.GetErrorCode(h) != TurboJpeg.ErrorWarning)
            throw new ImageFormatException(name, $"corrupt JPEG data: {msg}");
        // libjpeg reports a file cut short only as a warning and fills the missing rows with gray;
        // training on such an image would be silently wrong, so it is an error here. Other warnings
        // (e.g. extraneous bytes before a marker) leave the pixels intact and are accepted.
        if (msg.Contains("Premature end", StringComparison.OrdinalIgnoreCase))
            throw new ImageFormatException(name, $"truncated JPEG data ({msg})");
    }

    // Adobe writes CMYK JPEGs inverted (stored value = 255 - ink), which is what practically every
    // CMYK JPEG in the wild is, so R = C'·K'/255 with C', K' the stored values.
    private static Image FromAdobeCmyk(byte[] cmyk, int w, int h)
    {
        int n = w * h;
        var data = new float[3 * n];
        for (int p = 0; p < n; p++)
        {
            int k = cmyk[4 * p + 3];
            for (int c = 0; c < 3; c++)
                data[c * n + p] = (float)Math.Round(cmyk[4 * p + c] * k / 255.0, MidpointRounding.AwayFromZero) / 255f;
        }
        return new Image(w, h, 3, data, 8);
    }
}
