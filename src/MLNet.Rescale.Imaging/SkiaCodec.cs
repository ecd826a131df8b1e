using SkiaSharp;

namespace MLNet.Rescale.Imaging;

/// <summary>
/// Decoding and encoding through SkiaSharp (its natives come from NuGet on every platform; ML.NET's MLImage uses the
/// same copy). Untrusted bytes go through <see cref="SKCodec"/> only: it reports the dimensions before any pixel is
/// allocated, and a stream cut short comes back as <see cref="SKCodecResult.IncompleteInput"/>, where
/// <c>SKBitmap.Decode</c> would silently return a full-size image with the missing rows filled in.
/// </summary>
internal static class SkiaCodec
{
    /// <summary>Decodes 8-bit PNG, JPEG or WebP into a grey, RGB or RGBA image (RGBA only when the file has alpha).</summary>
    public static unsafe Image Decode(ReadOnlySpan<byte> data, string name, string format)
    {
        using var skData = SKData.CreateCopy(data);
        // The codec owns the stream it reads (SkiaSharp hands it over and frees it with the codec).
        using var codec = SKCodec.Create(new SKMemoryStream(skData), out var created);
        if (codec is null)
            throw new ImageFormatException(name, created == SKCodecResult.IncompleteInput
                ? $"truncated {format} data (header incomplete)" : $"invalid {format} data ({Describe(created)})");
        var info = codec.Info;
        ImagingLimits.Check(name, info.Width, info.Height);
        if (codec.FrameCount > 1) throw new ImageFormatException(name, $"animated {format} is not supported");
        bool gray = info.ColorType == SKColorType.Gray8;
        bool alpha = !gray && info.AlphaType != SKAlphaType.Opaque;
        // No colour space on the target: the stored values, never converted by an embedded profile or gamma.
        var target = gray
            ? new SKImageInfo(info.Width, info.Height, SKColorType.Gray8, SKAlphaType.Opaque)
            : new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, alpha ? SKAlphaType.Unpremul : SKAlphaType.Opaque);
        var pixels = new byte[checked((long)target.RowBytes * target.Height)];
        SKCodecResult result;
        fixed (byte* p = pixels) result = codec.GetPixels(target, (IntPtr)p);
        if (result == SKCodecResult.IncompleteInput) throw new ImageFormatException(name, $"truncated {format} data (the image ends before its last row)");
        if (result != SKCodecResult.Success) throw new ImageFormatException(name, $"corrupt {format} data ({Describe(result)})");
        if (gray || alpha) return Image.FromInterleaved8(pixels, info.Width, info.Height, gray ? 1 : 4);
        // Opaque colour: RGBA with alpha 255, kept as RGB.
        var rgb = new byte[checked(info.Width * info.Height * 3)];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = pixels[j];
            rgb[i + 1] = pixels[j + 1];
            rgb[i + 2] = pixels[j + 2];
        }
        return Image.FromInterleaved8(rgb, info.Width, info.Height, 3);
    }

    /// <summary>Encodes an 8-bit image: grey stays grey where the format has it, RGBA keeps straight (unpremultiplied) alpha.</summary>
    public static unsafe byte[] Encode(Image image, Func<SKPixmap, SKData?> encode, string format, bool grayAllowed = true)
    {
        var src = image.Channels == 1 && !grayAllowed ? image.ToRgb() : image;
        SKImageInfo info;
        byte[] pixels;
        if (src.Channels == 1)
        {
            info = new SKImageInfo(src.Width, src.Height, SKColorType.Gray8, SKAlphaType.Opaque);
            pixels = src.ToInterleaved8();
        }
        else
        {
            info = new SKImageInfo(src.Width, src.Height, SKColorType.Rgba8888, src.HasAlpha ? SKAlphaType.Unpremul : SKAlphaType.Opaque);
            pixels = src.HasAlpha ? src.ToInterleaved8() : WithOpaqueAlpha(src.ToInterleaved8());
        }
        fixed (byte* p = pixels)
        {
            using var pixmap = new SKPixmap(info, (IntPtr)p, info.RowBytes);
            using var data = encode(pixmap) ?? throw new ImageFormatException($"<{format} encoder>", $"SkiaSharp could not encode this {src.Width}×{src.Height}×{src.Channels} image as {format}");
            return data.ToArray();
        }
    }

    private static byte[] WithOpaqueAlpha(byte[] rgb)
    {
        var rgba = new byte[rgb.Length / 3 * 4];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgba[j] = rgb[i];
            rgba[j + 1] = rgb[i + 1];
            rgba[j + 2] = rgb[i + 2];
            rgba[j + 3] = 255;
        }
        return rgba;
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.InvalidInput => "the decoder rejected the stream",
        SKCodecResult.CouldNotRewind => "the stream could not be rewound",
        SKCodecResult.InternalError => "the decoder failed",
        SKCodecResult.Unimplemented => "a feature the decoder does not implement",
        SKCodecResult.InvalidConversion => "a pixel layout the decoder cannot produce",
        SKCodecResult.InvalidScale => "an invalid scale",
        SKCodecResult.InvalidParameters => "invalid parameters",
        _ => result.ToString(),
    };
}
