using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Internals;
using MLNet.Rescale.ML.Rescaling;
using MLNet.Rescale.ML.Transforms;

namespace MLNet.Rescale.ML;

/// <summary>
/// The rescaling components and the image transforms ML.NET lacks, on <c>mlContext.Transforms</c>. Every one reads and
/// writes <see cref="MLImage"/> columns, so they chain with <c>LoadImages</c>, <c>ResizeImages</c>, <c>ExtractPixels</c>.
/// </summary>
public static class RescalingTransformsCatalogExtensions
{
    /// <summary>Wraps a pretrained model file (<c>.safetensors</c>) as a downscaler: fitting trains nothing.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="modelFile">The model file (e.g. <c>models/irn-x2.safetensors</c>); read now, so a bad file fails here.</param>
    /// <param name="outputColumnName">The LR image column written (it carries the network as an annotation).</param>
    /// <param name="inputColumnName">The HR image column read.</param>
    public static InvertibleDownscaler InvertibleDownscaler(this TransformsCatalog catalog, string modelFile, string outputColumnName = "LR", string inputColumnName = "Image")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(modelFile);
        return new(HostSettings.Environment(catalog), new InvertibleDownscaler.Options { ModelFile = modelFile, OutputColumnName = outputColumnName, InputColumnName = inputColumnName });
    }

    /// <summary>A downscaler that trains an IRN or SAIN in <c>Fit</c> (or wraps <see cref="Rescaling.InvertibleDownscaler.Options.ModelFile"/>).</summary>
    public static InvertibleDownscaler InvertibleDownscaler(this TransformsCatalog catalog, InvertibleDownscaler.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new(HostSettings.Environment(catalog), options);
    }

    /// <summary>
    /// Upscales an LR image column. Without <paramref name="modelFile"/>, with the network of the downscaler that wrote
    /// the column (through its annotation, which <c>CompressImages</c> keeps); with one, standing alone (a client only
    /// needs the upscaler).
    /// </summary>
    public static CompressionAwareUpscaler CompressionAwareUpscaler(this TransformsCatalog catalog, string outputColumnName = "Upscaled",
        string inputColumnName = "LR", string? modelFile = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new(HostSettings.Environment(catalog), new CompressionAwareUpscaler.Options { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, ModelFile = modelFile });
    }

    /// <summary>An upscaler with all its settings (latent seed and temperature, tiling).</summary>
    public static CompressionAwareUpscaler CompressionAwareUpscaler(this TransformsCatalog catalog, CompressionAwareUpscaler.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new(HostSettings.Environment(catalog), options);
    }

    /// <summary>HCD: optimizes the LR column for the network that made it (place it between the downscaler and the codec).</summary>
    public static CollaborativeLrOptimizer CollaborativeLrOptimizer(this TransformsCatalog catalog, CollaborativeLrOptimizer.Options? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new(HostSettings.Environment(catalog), options ?? new());
    }

    /// <summary>Passes images through the real JPEG or WebP codec (<c>jpeg:Q</c> or <c>webp:Q</c>, Q in 1–100) and decodes them: what a client receives.</summary>
    public static ImageColumnEstimator<ImageCompressingTransformer> CompressImages(this TransformsCatalog catalog, string outputColumnName,
        string? inputColumnName = null, string codec = "jpeg:75")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new(new ImageCompressingTransformer(outputColumnName, LossyCodec.Parse(codec), inputColumnName));
    }

    /// <summary>Crops each side to a multiple of <paramref name="scale"/>, top-left kept (modcrop, as <c>rescale eval</c>).</summary>
    public static ImageColumnEstimator<ImageModCropTransformer> ModCropImages(this TransformsCatalog catalog, string outputColumnName, int scale,
        string? inputColumnName = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new(new ImageModCropTransformer(outputColumnName, scale, inputColumnName));
    }

    /// <summary>Resizes to <paramref name="imageWidth"/>×<paramref name="imageHeight"/> with MATLAB's bicubic (the papers' resampling), rounded to 8 bits.</summary>
    public static ImageColumnEstimator<ImageBicubicResizingTransformer> ResizeImagesBicubic(this TransformsCatalog catalog, string outputColumnName,
        int imageWidth, int imageHeight, string? inputColumnName = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new(new ImageBicubicResizingTransformer(outputColumnName, imageWidth, imageHeight, inputColumnName));
    }

    /// <summary>Crops to <paramref name="imageWidth"/>×<paramref name="imageHeight"/> without resampling, at the top-left corner or centred.</summary>
    public static ImageColumnEstimator<ImageCroppingTransformer> CropImages(this TransformsCatalog catalog, string outputColumnName,
        int imageWidth, int imageHeight, string? inputColumnName = null, bool centered = false)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new(new ImageCroppingTransformer(outputColumnName, imageWidth, imageHeight, centered, inputColumnName));
    }

    /// <summary>Writes the images of <paramref name="inputColumnName"/> into <paramref name="folder"/> (atomically); the output text column holds the paths.</summary>
    public static ImageColumnEstimator<ImageSavingTransformer> SaveImages(this TransformsCatalog catalog, string outputColumnName, string folder,
        string inputColumnName, ImageFormat format = ImageFormat.Png, string? nameColumnName = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new(new ImageSavingTransformer(outputColumnName, folder, format, inputColumnName, nameColumnName));
    }
}

/// <summary><c>mlContext.Rescaling()</c>: evaluation as the papers report it, and image folders as data.</summary>
public static class MLContextRescalingExtensions
{
    /// <summary>The rescaling catalog of <paramref name="mlContext"/>.</summary>
    public static RescalingCatalog Rescaling(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new(mlContext);
    }
}

/// <summary>Evaluation and data helpers for rescaling pipelines (<see cref="MLContextRescalingExtensions.Rescaling"/>).</summary>
public sealed class RescalingCatalog
{
    private readonly MLContext mlContext;

    internal RescalingCatalog(MLContext mlContext) => this.mlContext = mlContext;

    /// <summary>
    /// Y-PSNR and SSIM of <paramref name="scoreColumnName"/> against <paramref name="labelColumnName"/>, per image and mean,
    /// as <c>rescale eval</c> scores them: the crop border defaults to the score column's scale, and each label is
    /// modcropped to that scale (see <see cref="RescaleMetrics"/>). <paramref name="progress"/> receives each image's
    /// scores as soon as they are known (computing a row runs the whole pipeline for it, which may take minutes).
    /// </summary>
    public RescaleMetrics Evaluate(IDataView data, string labelColumnName = "Image", string scoreColumnName = "Upscaled", int? cropBorder = null,
        IProgress<ImageMetrics>? progress = null) =>
        RescaleMetrics.Compute(data, labelColumnName, scoreColumnName, cropBorder, progress);

    /// <summary>
    /// The image files (PNG, JPEG, BMP, WebP) directly in <paramref name="folder"/>, sorted by name, as a text column of
    /// full paths (for <c>LoadImages(…, imageFolder: null, inputColumnName: columnName)</c>). A missing folder or one
    /// without images is an error naming it.
    /// </summary>
    public IDataView LoadImagePaths(string folder, string columnName = "ImagePath")
    {
        ArgumentException.ThrowIfNullOrEmpty(columnName);
        var rows = Evaluator.ImageFiles(folder).Select(f => new ImagePathRow { Path = System.IO.Path.GetFullPath(f) }).ToList();
        var definition = SchemaDefinition.Create(typeof(ImagePathRow));
        definition[0].ColumnName = columnName;
        return mlContext.Data.LoadFromEnumerable(rows, definition);
    }

    private sealed class ImagePathRow
    {
        public string Path { get; set; } = "";
    }
}
