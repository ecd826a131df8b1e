namespace MLNet.Rescale.Imaging;

/// <summary>Image container formats this library reads and writes.</summary>
public enum ImageFormat
{
    /// <summary>PNG (SkiaSharp; 16-bit in managed code).</summary>
    Png,
    /// <summary>JPEG (SkiaSharp's libjpeg-turbo).</summary>
    Jpeg,
    /// <summary>WebP (SkiaSharp's libwebp).</summary>
    Webp,
    /// <summary>Uncompressed Windows bitmap (managed).</summary>
    Bmp,
}

/// <summary>Options for <see cref="ImageFile.Write"/> and <see cref="ImageFile.Encode(Image, ImageFormat, ImageWriteOptions?)"/>.</summary>
public sealed record ImageWriteOptions
{
    /// <summary>JPEG/WebP quality 1..100. Default 95.</summary>
    public int Quality { get; init; } = 95;

    /// <summary>PNG bits per sample, 8 or 16; null means the image's own <see cref="Image.BitDepth"/>.</summary>
    public int? PngBitDepth { get; init; }

    /// <summary>JPEG chroma subsampling for colour images. Default 4:2:0.</summary>
    public JpegSubsampling JpegSubsampling { get; init; } = JpegSubsampling.Yuv420;

    /// <summary>Write lossless WebP instead of lossy.</summary>
    public bool WebpLossless { get; init; }
}

/// <summary>Reads and writes image files, detecting the format from the content when reading and from the extension when writing.</summary>
public static class ImageFile
{
    /// <summary>Detects the format from the leading magic bytes, or null when it is none of ours.</summary>
    /// <param name="data">The first bytes of a file (12 suffice).</param>
    public static ImageFormat? DetectFormat(ReadOnlySpan<byte> data)
    {
        if (Png.IsPng(data)) return ImageFormat.Png;
        if (Jpeg.IsJpeg(data)) return ImageFormat.Jpeg;
        if (Webp.IsWebp(data)) return ImageFormat.Webp;
        if (Bmp.IsBmp(data)) return ImageFormat.Bmp;
        return null;
    }

    /// <summary>The format implied by a file extension (.png, .jpg, .jpeg, .webp, .bmp), or null.</summary>
    /// <param name="path">A path or file name.</param>
    public static ImageFormat? FormatFromExtension(string path) =>
        Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".png" => ImageFormat.Png,
            ".jpg" or ".jpeg" or ".jpe" => ImageFormat.Jpeg,
            ".webp" => ImageFormat.Webp,
            ".bmp" => ImageFormat.Bmp,
            _ => null,
        };

    /// <summary>Reads an image file; the format comes from its content, not its extension.</summary>
    /// <param name="path">File to read.</param>
    /// <exception cref="ImageFormatException">The content is empty, of an unknown format, corrupt or too large.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static Image Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes = File.ReadAllBytes(path);
        return Decode(bytes, path);
    }

    /// <summary>Decodes an in-memory image file of any supported format.</summary>
    /// <param name="data">The file contents.</param>
    /// <param name="nameForErrors">Name to put in error messages (a path, URL or description).</param>
    public static Image Decode(ReadOnlySpan<byte> data, string nameForErrors = "<memory>")
    {
        if (data.Length == 0) throw new ImageFormatException(nameForErrors, "file is empty (0 bytes)");
        return DetectFormat(data) switch
        {
            ImageFormat.Png => Png.Decode(data, nameForErrors),
            ImageFormat.Jpeg => Jpeg.Decode(data, nameForErrors),
            ImageFormat.Webp => Webp.Decode(data, nameForErrors),
            ImageFormat.Bmp => Bmp.Decode(data, nameForErrors),
            _ => throw new ImageFormatException(nameForErrors, "not a PNG, JPEG, WebP or BMP file"),
        };
    }

    /// <summary>Encodes an image in memory.</summary>
    /// <param name="image">The image.</param>
    /// <param name="format">Target format.</param>
    /// <param name="options">Quality and bit-depth options; null for defaults.</param>
    public static byte[] Encode(Image image, ImageFormat format, ImageWriteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        options ??= new ImageWriteOptions();
        return format switch
        {
            ImageFormat.Png => Png.Encode(image, options.PngBitDepth ?? image.BitDepth),
            ImageFormat.Jpeg => Jpeg.Encode(image, options.Quality, options.JpegSubsampling),
            ImageFormat.Webp => Webp.Encode(image, options.Quality, options.WebpLossless),
            ImageFormat.Bmp => Bmp.Encode(image),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown image format"),
        };
    }

    /// <summary>Encodes an image in memory with a quality setting (JPEG/WebP; ignored for PNG and BMP).</summary>
    /// <param name="image">The image.</param>
    /// <param name="format">Target format.</param>
    /// <param name="quality">Quality 1..100.</param>
    public static byte[] Encode(Image image, ImageFormat format, int quality)
        => Encode(image, format, new ImageWriteOptions { Quality = quality });

    /// <summary>
    /// Writes an image, choosing the format from the extension. The write is atomic: the data goes to a
    /// temporary file in the same directory which then replaces <paramref name="path"/>, so readers never
    /// see a half-written image and a failed write leaves the old file untouched and no temporary behind.
    /// </summary>
    /// <param name="image">The image.</param>
    /// <param name="path">Destination; its extension picks the format.</param>
    /// <param name="options">Quality and bit-depth options; null for defaults.</param>
    public static void Write(Image image, string path, ImageWriteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ImageFormat format = FormatFromExtension(path)
            ?? throw new ArgumentException($"{path}: unknown image extension (use .png, .jpg, .jpeg, .webp or .bmp)", nameof(path));
        // Encode before touching the disk so encoder errors cannot leave anything behind.
        byte[] bytes = Encode(image, format, options);
        WriteAtomically(path, bytes);
    }

    /// <summary>Writes bytes to <paramref name="path"/> through a temporary file in the same directory and a rename.</summary>
    /// <param name="path">Destination file.</param>
    /// <param name="bytes">Contents.</param>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> bytes)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        // Same directory so the final rename stays on one file system (rename is atomic only there).
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
