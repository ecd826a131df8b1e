using SkiaSharp;

namespace MLNet.Rescale.Imaging;

/// <summary>Chroma subsampling used when encoding colour JPEGs.</summary>
public enum JpegSubsampling
{
    /// <summary>4:4:4, no chroma subsampling.</summary>
    Yuv444,
    /// <summary>4:2:2, chroma halved horizontally.</summary>
    Yuv422,
    /// <summary>4:2:0, chroma halved in both directions (the default of PIL, OpenCV and libjpeg's cjpeg).</summary>
    Yuv420,
}

/// <summary>
/// JPEG through SkiaSharp (libjpeg-turbo inside): grey and colour images; CMYK/YCCK files are converted to RGB by the
/// decoder. Its encoder and decoder give exactly the pixels of libjpeg-turbo's accurate integer DCT (the papers'
/// and PIL's JPEG), checked against fixtures written with TurboJPEG's <c>TJFLAG_ACCURATEDCT</c>.
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
    public static Image Decode(ReadOnlySpan<byte> data, string name = "<memory>")
    {
        if (!IsJpeg(data)) throw new ImageFormatException(name, "not a JPEG file");
        return SkiaCodec.Decode(data, name, "JPEG");
    }

    /// <summary>Encodes a gray or RGB image as baseline JPEG.</summary>
    /// <param name="image">1- or 3-channel image; RGBA is refused (JPEG has no alpha: call <see cref="Image.SplitAlpha"/>).</param>
    /// <param name="quality">Quality 1..100 (libjpeg scale).</param>
    /// <param name="subsampling">Chroma subsampling for colour images.</param>
    public static byte[] Encode(Image image, int quality = 95, JpegSubsampling subsampling = JpegSubsampling.Yuv420)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckQuality(quality);
        if (image.HasAlpha)
            throw new ArgumentException("JPEG cannot store alpha; call SplitAlpha() and handle the alpha plane explicitly", nameof(image));
        var options = new SKJpegEncoderOptions(quality, subsampling switch
        {
            JpegSubsampling.Yuv444 => SKJpegEncoderDownsample.Downsample444,
            JpegSubsampling.Yuv422 => SKJpegEncoderDownsample.Downsample422,
            _ => SKJpegEncoderDownsample.Downsample420,
        }, SKJpegEncoderAlphaOption.Ignore);
        return SkiaCodec.Encode(image, pixmap => pixmap.Encode(options), "JPEG");
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
}
