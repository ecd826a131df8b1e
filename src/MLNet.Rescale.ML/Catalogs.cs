using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Core;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Model;
using MLNet.Rescale.ML.Rescaling;
using MLNet.Rescale.ML.Transforms;

namespace MLNet.Rescale.ML;

/// <summary>A train/test split.</summary>
/// <param name="TrainSet">The rows to fit on.</param>
/// <param name="TestSet">The held-out rows.</param>
public sealed record TrainTestData(IDataView TrainSet, IDataView TestSet);

/// <summary>Marks a property or field of a row type with the column name it maps to in <see cref="DataOperationsCatalog.LoadFromEnumerable{TRow}"/>.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ColumnNameAttribute(string name) : Attribute
{
    /// <summary>The column name.</summary>
    public string Name { get; } = name;
}

/// <summary>Loading and splitting data (<see cref="RescaleContext.Data"/>).</summary>
public sealed class DataOperationsCatalog
{
    private readonly RescaleContext context;

    internal DataOperationsCatalog(RescaleContext context) => this.context = context;

    /// <summary>
    /// A view over objects: every public readable property and field of <typeparamref name="TRow"/> of type
    /// <see cref="string"/> (Text), <see cref="Image"/>, <see cref="float"/>, <see cref="double"/>, <see cref="int"/>,
    /// <see cref="long"/> or <see cref="float"/>[] (Tensor) becomes a column (named by <see cref="ColumnNameAttribute"/> if
    /// present). The enumerable is read anew by every cursor, lazily.
    /// </summary>
    public IDataView LoadFromEnumerable<TRow>(IEnumerable<TRow> data) where TRow : class
    {
        ArgumentNullException.ThrowIfNull(data);
        var members = new List<(string Name, DataViewType Type, Func<TRow, object?> Get)>();
        foreach (var m in typeof(TRow).GetMembers(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
        {
            (Type? type, Func<TRow, object?>? get) = m switch
            {
                System.Reflection.PropertyInfo p when p.CanRead && p.GetIndexParameters().Length == 0 => (p.PropertyType, (Func<TRow, object?>)(r => p.GetValue(r))),
                System.Reflection.FieldInfo f => (f.FieldType, r => f.GetValue(r)),
                _ => (null, null),
            };
            if (type is null || get is null) continue;
            DataViewType? columnType = type == typeof(string) ? TextDataViewType.Instance
                : type == typeof(Image) ? ImageDataViewType.Instance
                : type == typeof(float) ? NumberDataViewType.Single
                : type == typeof(double) ? NumberDataViewType.Double
                : type == typeof(int) ? NumberDataViewType.Int32
                : type == typeof(long) ? NumberDataViewType.Int64
                : type == typeof(float[]) ? new TensorDataViewType()
                : null;
            if (columnType is null) continue;
            string name = (m.GetCustomAttributes(typeof(ColumnNameAttribute), true).FirstOrDefault() as ColumnNameAttribute)?.Name ?? m.Name;
            members.Add((name, columnType, get));
        }
        if (members.Count == 0) throw new ArgumentException($"{typeof(TRow).Name} has no public member of a supported column type");
        var schema = DataViewSchema.Create(members.Select(m => (m.Name, m.Type)));
        long? count = data is ICollection<TRow> c ? c.Count : data is IReadOnlyCollection<TRow> rc ? rc.Count : null;
        return new RowsDataView(schema, () => data.Select(row => members.Select(m => m.Get(row)).ToArray()), count);
    }

    /// <summary>
    /// The image files (PNG, JPEG, BMP, WebP) directly in <paramref name="folder"/>, sorted by name, as a text column of
    /// full paths (for <see cref="TransformsCatalog.LoadImages"/>). A missing folder or one without images is an error naming it.
    /// </summary>
    public IDataView LoadFromDirectory(string folder, string columnName = "ImagePath")
    {
        var files = Evaluator.ImageFiles(folder).Select(Path.GetFullPath).ToArray();
        var schema = DataViewSchema.Create([(columnName, TextDataViewType.Instance)]);
        return new RowsDataView(schema, () => files.Select(f => new object?[] { f }), files.Length);
    }

    /// <summary>
    /// Splits the rows at random (seeded by <paramref name="seed"/> or the context) into a train set and a test set of
    /// round(n × <paramref name="testFraction"/>) rows; both keep the original row order.
    /// </summary>
    public TrainTestData TrainTestSplit(IDataView data, double testFraction = 0.1, int? seed = null)
    {
        if (!(testFraction >= 0 && testFraction <= 1)) throw new ArgumentOutOfRangeException(nameof(testFraction), $"must be in [0, 1], got {testFraction}");
        long n = data.CountRows();
        int testCount = (int)Math.Round(n * testFraction);
        var random = new Random(seed ?? (int)(context.NextSeed() & int.MaxValue));
        var order = Enumerable.Range(0, (int)n).ToArray();
        random.Shuffle(order);
        var test = order.Take(testCount).Select(i => (long)i).ToHashSet();
        return new TrainTestData(new FilteredDataView(data, i => !test.Contains(i), n - testCount), new FilteredDataView(data, test.Contains, testCount));
    }
}

/// <summary>Image transforms (<see cref="RescaleContext.Transforms"/>); none needs training.</summary>
public sealed class TransformsCatalog
{
    internal TransformsCatalog() { }

    /// <summary>Reads the image files a text column names (relative to <paramref name="imageFolder"/> when given).</summary>
    public TrivialEstimator<ImageLoadingTransformer> LoadImages(string outputColumnName, string? imageFolder, string inputColumnName) =>
        new(new ImageLoadingTransformer(outputColumnName, imageFolder, inputColumnName));

    /// <summary>Resizes to <paramref name="imageWidth"/>×<paramref name="imageHeight"/> with MATLAB's bicubic.</summary>
    public TrivialEstimator<ImageResizingTransformer> ResizeImages(string outputColumnName, int imageWidth, int imageHeight, string? inputColumnName = null) =>
        new(new ImageResizingTransformer(outputColumnName, imageWidth, imageHeight, inputColumnName));

    /// <summary>Crops to <paramref name="width"/>×<paramref name="height"/> at <paramref name="anchor"/>.</summary>
    public TrivialEstimator<ImageCroppingTransformer> CropImages(string outputColumnName, int width, int height, string? inputColumnName = null,
        ImageCropAnchor anchor = ImageCropAnchor.TopLeft) =>
        new(new ImageCroppingTransformer(outputColumnName, width, height, anchor, inputColumnName));

    /// <summary>Crops to the largest multiple of <paramref name="scale"/> on each side, top-left kept (modcrop, as <c>rescale eval</c>).</summary>
    public TrivialEstimator<ImageModCropTransformer> ModCropImages(string outputColumnName, int scale, string? inputColumnName = null) =>
        new(new ImageModCropTransformer(outputColumnName, scale, inputColumnName));

    /// <summary>Converts to one grey channel.</summary>
    public TrivialEstimator<ImageGrayscaleTransformer> ConvertToGrayscale(string outputColumnName, string? inputColumnName = null) =>
        new(new ImageGrayscaleTransformer(outputColumnName, inputColumnName));

    /// <summary>Passes images through the real JPEG or WebP codec at <paramref name="quality"/> (1–100).</summary>
    public TrivialEstimator<ImageCompressingTransformer> CompressImages(string outputColumnName, ImageFormat format, int quality, string? inputColumnName = null) =>
        new(new ImageCompressingTransformer(outputColumnName, format, quality, inputColumnName));

    /// <summary>Writes the images of <paramref name="inputColumnName"/> into <paramref name="folder"/>; the output column holds the paths.</summary>
    public TrivialEstimator<ImageSavingTransformer> SaveImages(string outputColumnName, string folder, string inputColumnName,
        ImageFormat format = ImageFormat.Png, string? nameColumnName = null) =>
        new(new ImageSavingTransformer(outputColumnName, folder, format, inputColumnName, nameColumnName));
}

/// <summary>The rescaling components and their evaluation (<see cref="RescaleContext.Rescaling"/>).</summary>
public sealed class RescalingCatalog
{
    private readonly RescaleContext context;

    internal RescalingCatalog(RescaleContext context) => this.context = context;

    /// <summary>Trains an IRN or SAIN on an image column (or wraps <see cref="InvertibleDownscaler.Options.ModelFile"/>).</summary>
    public InvertibleDownscaler InvertibleDownscaler(InvertibleDownscaler.Options options) => new(options, context.NextSeed());

    /// <summary>Wraps a pretrained model file without training.</summary>
    public InvertibleDownscaler InvertibleDownscaler(string modelFile, string outputColumnName = "LR", string inputColumnName = "Image") =>
        new(new InvertibleDownscaler.Options { ModelFile = modelFile, OutputColumnName = outputColumnName, InputColumnName = inputColumnName }, context.NextSeed());

    /// <summary>Upscales an LR column with the network its annotation names (the downscaler's, upstream in the pipeline).</summary>
    public CompressionAwareUpscaler CompressionAwareUpscaler(CompressionAwareUpscaler.Options? options = null) =>
        new(options ?? new(), modelFile: null, context.NextSeed());

    /// <summary>Upscales with the network of a model file (<c>.safetensors</c>, or a model zip's network) — all a client needs.</summary>
    public CompressionAwareUpscaler CompressionAwareUpscaler(string modelFile, CompressionAwareUpscaler.Options? options = null) =>
        new(options ?? new(), modelFile, context.NextSeed());

    /// <summary>HCD: optimizes the LR column for the network that made it.</summary>
    public CollaborativeLrOptimizer CollaborativeLrOptimizer(CollaborativeLrOptimizer.Options? options = null) =>
        new(options ?? new(), context.NextSeed());

    /// <summary>
    /// Y-PSNR and SSIM of <paramref name="scoreColumnName"/> against <paramref name="labelColumnName"/>, per image and mean,
    /// as <c>rescale eval</c> scores them: the crop border defaults to the score column's scale, and each label is
    /// modcropped to that scale (see <see cref="RescaleMetrics"/>). <paramref name="progress"/> receives each image's
    /// scores as soon as they are known (computing a row runs the whole pipeline for it, which may take minutes).
    /// </summary>
    public RescaleMetrics Evaluate(IDataView data, string labelColumnName = "Image", string scoreColumnName = "Upscaled", int? cropBorder = null,
        IProgress<ImageMetrics>? progress = null) =>
        RescaleMetrics.Compute(data, labelColumnName, scoreColumnName, cropBorder, progress);
}

/// <summary>Saving and loading models (<see cref="RescaleContext.Model"/>).</summary>
public sealed class ModelOperationsCatalog
{
    internal ModelOperationsCatalog() { }

    /// <summary>Writes a transformer (usually a fitted chain) and the input schema it expects to a model zip, atomically.</summary>
    public void Save(ITransformer model, DataViewSchema? inputSchema, string filePath) => ModelFormat.Save(model, inputSchema, filePath);

    /// <summary>Reads a model zip; <paramref name="inputSchema"/> is the schema it was saved with.</summary>
    public ITransformer Load(string filePath, out DataViewSchema inputSchema) => ModelFormat.Load(filePath, out inputSchema);
}
