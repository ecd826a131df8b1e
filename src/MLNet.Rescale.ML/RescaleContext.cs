namespace MLNet.Rescale.ML;

/// <summary>
/// The entry point, like ML.NET's <c>MLContext</c>: catalogs of data operations, transforms, rescaling components and
/// model operations. With a seed, every component created through it gets a deterministic seed of its own (in creation
/// order), so a pipeline built the same way trains and upscales the same way.
/// </summary>
public sealed class RescaleContext
{
    private readonly Random random;
    private readonly object gate = new();

    /// <summary>A context; <paramref name="seed"/> null draws seeds at random.</summary>
    public RescaleContext(int? seed = null)
    {
        Seed = seed;
        random = seed is int s ? new Random(s) : new Random();
        Data = new DataOperationsCatalog(this);
        Transforms = new TransformsCatalog();
        Rescaling = new RescalingCatalog(this);
        Model = new ModelOperationsCatalog();
    }

    /// <summary>The seed given, if any.</summary>
    public int? Seed { get; }

    /// <summary>Loading data and splitting it.</summary>
    public DataOperationsCatalog Data { get; }

    /// <summary>Image transforms: load, resize, crop, grey, compress, save.</summary>
    public TransformsCatalog Transforms { get; }

    /// <summary>InvertibleDownscaler, CompressionAwareUpscaler, CollaborativeLrOptimizer and Evaluate.</summary>
    public RescalingCatalog Rescaling { get; }

    /// <summary>Saving and loading model zips.</summary>
    public ModelOperationsCatalog Model { get; }

    internal ulong NextSeed()
    {
        lock (gate) return (ulong)random.NextInt64(0, long.MaxValue);
    }
}
