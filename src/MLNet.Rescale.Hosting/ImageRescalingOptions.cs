using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Networks;

namespace MLNet.Rescale.Hosting;

/// <summary>
/// Settings of the <see cref="IImageRescaler"/> that
/// <see cref="ImageRescalingServiceCollectionExtensions.AddImageRescaling"/> registers.
/// </summary>
public sealed class ImageRescalingOptions
{
    /// <summary>The model file every pool instance is loaded from (required).</summary>
    public string? ModelPath { get; set; }

    /// <summary>
    /// Builds one network from <see cref="ModelPath"/>; called once per pool instance, each call must return a new
    /// network that the rescaler then owns (and disposes). Null (the default) loads a safetensors model file with
    /// <see cref="ModelFile.Load(string, TorchSharp.torch.Device?)"/> on <see cref="RescalerOptions.Device"/>.
    /// Other model containers (a pipeline's model zip, say) plug in here.
    /// </summary>
    public Func<string, RescaleNetwork>? ModelLoader { get; set; }

    /// <summary>
    /// Most network instances, and so most calls running at once; further callers wait for a free instance.
    /// Instances beyond the first are loaded when concurrent demand first needs them. Default: the processor count.
    /// </summary>
    public int PoolSize { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// libtorch intra-op threads each call runs with (set on the thread doing the work); 0 leaves libtorch's
    /// setting. With several instances busy at once, <see cref="PoolSize"/> × this ≈ the core count avoids
    /// oversubscribing the CPU.
    /// </summary>
    public int ThreadsPerCall { get; set; }

    /// <summary>Tiling, latent seed and temperature, and device of every call (see <see cref="RescalerOptions"/>).</summary>
    public RescalerOptions Inference { get; set; } = new();

    /// <summary>
    /// Downscale with collaborative optimization (HCD, <see cref="CollaborativeOptimizer"/>): a better LR for the
    /// same upscaler, at the cost of <see cref="CollaborativeOptions"/>' iterations of both network directions.
    /// </summary>
    public bool Collaborative { get; set; }

    /// <summary>Settings of the collaborative optimization used when <see cref="Collaborative"/> is on.</summary>
    public CollaborativeOptions CollaborativeOptions { get; set; } = new();

    /// <summary>How images written to streams are encoded (JPEG/WebP quality, PNG bit depth).</summary>
    public ImageWriteOptions Encoding { get; set; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is missing or out of range.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelPath))
            throw new ArgumentException("ImageRescalingOptions.ModelPath is not set: name the model file to load", nameof(ModelPath));
        if (PoolSize < 1) throw new ArgumentOutOfRangeException(nameof(PoolSize), PoolSize, "the pool needs at least one instance");
        if (ThreadsPerCall < 0) throw new ArgumentOutOfRangeException(nameof(ThreadsPerCall), ThreadsPerCall, "threads per call must be ≥ 0 (0: libtorch's setting)");
        ArgumentNullException.ThrowIfNull(Inference, nameof(Inference));
        ArgumentNullException.ThrowIfNull(Encoding, nameof(Encoding));
        if (Inference.TileSize < 0 || Inference.TileOverlap < 0)
            throw new ArgumentOutOfRangeException(nameof(Inference), "tile size and overlap must be ≥ 0");
        if (Encoding.Quality is < 1 or > 100)
            throw new ArgumentOutOfRangeException(nameof(Encoding), Encoding.Quality, "encoding quality must be 1..100");
        if (Collaborative)
        {
            ArgumentNullException.ThrowIfNull(CollaborativeOptions, nameof(CollaborativeOptions));
            CollaborativeOptions.Validate();
        }
    }
}
