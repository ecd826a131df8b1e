namespace MLNet.Rescale.Imaging;

/// <summary>
/// Thrown when image data cannot be decoded or encoded: unknown format, truncated or corrupt data,
/// unsupported variant, or dimensions outside <see cref="ImagingLimits"/>. The message always starts
/// with the name of the file (or the name the caller gave for in-memory data).
/// </summary>
public sealed class ImageFormatException : IOException
{
    /// <summary>Creates the exception with a message of the form "<paramref name="source"/>: <paramref name="problem"/>".</summary>
    /// <param name="source">The file name or the caller's name for the data.</param>
    /// <param name="problem">What is wrong, in words a user can act on.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public ImageFormatException(string source, string problem, Exception? inner = null)
        : base($"{source}: {problem}", inner)
    {
        FileName = source;
        Problem = problem;
    }

    /// <summary>The file name or the caller's name for the data.</summary>
    public string FileName { get; }

    /// <summary>The problem, without the file name.</summary>
    public string Problem { get; }
}

/// <summary>Process-wide limits that protect decoders against hostile or mistaken input.</summary>
public static class ImagingLimits
{
    private static long _maxPixels = 128L * 1024 * 1024;

    /// <summary>
    /// Largest width × height a decoder accepts, checked from the file header before any pixel buffer
    /// is allocated. Default 128 megapixels (134,217,728).
    /// </summary>
    public static long MaxPixels
    {
        get => Volatile.Read(ref _maxPixels);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1L);
            Volatile.Write(ref _maxPixels, value);
        }
    }

    /// <summary>Throws <see cref="ImageFormatException"/> unless the header dimensions are usable.</summary>
    internal static void Check(string source, long width, long height)
    {
        if (width <= 0 || height <= 0)
            throw new ImageFormatException(source, $"image is {width}×{height}");
        long pixels = width * height;
        long max = MaxPixels;
        if (pixels > max || width > int.MaxValue || height > int.MaxValue)
            throw new ImageFormatException(source,
                $"image is {width}×{height} = {pixels:0.###e0} pixels, above the limit of {max}; raise ImagingLimits.MaxPixels");
    }
}
