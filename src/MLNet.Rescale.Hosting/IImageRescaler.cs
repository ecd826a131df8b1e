using MLNet.Rescale.Imaging;

namespace MLNet.Rescale.Hosting;

/// <summary>
/// Downscales and upscales images with a trained rescaling network; safe to call from any number of threads at once.
/// Every call gives the same result whatever else runs beside it: downscaling is deterministic and upscaling draws
/// its latent from the configured seed on every call.
/// </summary>
public interface IImageRescaler
{
    /// <summary>The network's scale factor s (an LR image is ⌈W/s⌉×⌈H/s⌉).</summary>
    int Scale { get; }

    /// <summary>The network's architecture (IRN or SAIN).</summary>
    string Architecture { get; }

    /// <summary>The full path of the model file the networks were loaded from.</summary>
    string ModelPath { get; }

    /// <summary>The 8-bit LR image of an HR image (collaboratively optimized when the options say so).</summary>
    Task<Image> DownscaleAsync(Image hr, CancellationToken cancellationToken = default);

    /// <summary>Upscales an LR image s×.</summary>
    Task<Image> UpscaleAsync(Image lr, CancellationToken cancellationToken = default);

    /// <summary>Upscales an LR image to <paramref name="width"/>×<paramref name="height"/>, an HR size whose LR it is.</summary>
    Task<Image> UpscaleAsync(Image lr, int width, int height, CancellationToken cancellationToken = default);

    /// <summary>Downscales and upscales back to the HR size on one network instance.</summary>
    Task<RoundTripResult> RoundTripAsync(Image hr, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads an encoded image (PNG, JPEG, WebP or BMP) from <paramref name="input"/> and writes its LR to
    /// <paramref name="output"/> encoded as <paramref name="outputFormat"/> (default: the input's format).
    /// Returns the format written.
    /// </summary>
    /// <exception cref="ImageFormatException">The input is not a readable image.</exception>
    Task<ImageFormat> DownscaleAsync(Stream input, Stream output, ImageFormat? outputFormat = null, CancellationToken cancellationToken = default);

    /// <summary>Reads an encoded LR image and writes its s× upscale; returns the format written.</summary>
    /// <exception cref="ImageFormatException">The input is not a readable image.</exception>
    Task<ImageFormat> UpscaleAsync(Stream input, Stream output, ImageFormat? outputFormat = null, CancellationToken cancellationToken = default);

    /// <summary>Reads an encoded HR image and writes its round trip (downscaled and upscaled back to its size); returns the format written.</summary>
    /// <exception cref="ImageFormatException">The input is not a readable image.</exception>
    Task<ImageFormat> RoundTripAsync(Stream input, Stream output, ImageFormat? outputFormat = null, CancellationToken cancellationToken = default);
}

/// <summary>What a round trip produced.</summary>
/// <param name="LowResolution">The 8-bit LR image a client would receive.</param>
/// <param name="Restored">The LR upscaled back to the HR size.</param>
public sealed record RoundTripResult(Image LowResolution, Image Restored);
