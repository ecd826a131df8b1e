using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Microsoft.ML.Runtime;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Internals;

namespace MLNet.Rescale.ML.Transforms;

/// <summary>
/// Crops each image to the largest size that is a multiple of <see cref="Scale"/>, keeping the top-left corner — the
/// super-resolution literature's modcrop, which <c>rescale eval</c> applies before downscaling. Placed before an
/// <c>InvertibleDownscaler</c>, it makes a pipeline's <c>Evaluate</c> score exactly what <c>rescale eval</c> scores.
/// </summary>
public sealed class ImageModCropTransformer : ImageColumnTransformer
{
    internal const string LoaderSignature = "RescaleModCropImages";
    private static VersionInfo Version => ModelParts.Version("RSCMODCR", 0x00010001, LoaderSignature, typeof(ImageModCropTransformer));

    internal ImageModCropTransformer(string outputColumnName, int scale, string? inputColumnName) : base(outputColumnName, inputColumnName)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 1);
        Scale = scale;
    }

    /// <summary>The factor both sides are cropped to a multiple of.</summary>
    public int Scale { get; }

    private protected override ImageDataViewType OutputImageType(ImageDataViewType input) =>
        input.Width >= Scale && input.Height >= Scale ? new(input.Height - input.Height % Scale, input.Width - input.Width % Scale) : new();

    private protected override object Map(RowInputs row, DataViewSchema.Column input)
    {
        var image = row.Image(input);
        if (image.Width < Scale || image.Height < Scale)
            throw new InvalidOperationException($"ModCropImages: row {row.Position} of column '{input.Name}' is {image.Width}×{image.Height}, smaller than the scale {Scale}");
        return image.ModCrop(Scale);
    }

    // *** Binary format ***
    // string: output column; string: input column; int: scale
    private protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = BeginSave(ctx, Version);
        w.Write(Scale);
    }

    private static ImageModCropTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        var (r, output, input) = BeginLoad(ctx, Version);
        int scale = r.ReadInt32();
        if (scale < 1) throw new InvalidDataException($"{ModelParts.PartName(ctx)} (ModCropImages): scale {scale} is not ≥ 1");
        return new(output, scale, input);
    }
}

/// <summary>Crops images to a fixed size at the top-left corner or the centre; an image smaller than the crop is an error naming the row.</summary>
public sealed class ImageCroppingTransformer : ImageColumnTransformer
{
    internal const string LoaderSignature = "RescaleCropImages";
    private static VersionInfo Version => ModelParts.Version("RSCCROPI", 0x00010001, LoaderSignature, typeof(ImageCroppingTransformer));

    internal ImageCroppingTransformer(string outputColumnName, int width, int height, bool centered, string? inputColumnName)
        : base(outputColumnName, inputColumnName)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        (Width, Height, Centered) = (width, height, centered);
    }

    /// <summary>Crop width.</summary>
    public int Width { get; }
    /// <summary>Crop height.</summary>
    public int Height { get; }
    /// <summary>True: the crop is centred (rounded towards the top-left); false: at the top-left corner.</summary>
    public bool Centered { get; }

    private protected override ImageDataViewType OutputImageType(ImageDataViewType input) => new(Height, Width);

    private protected override object Map(RowInputs row, DataViewSchema.Column input)
    {
        var image = row.Image(input);
        if (image.Width < Width || image.Height < Height)
            throw new InvalidOperationException($"CropImages: row {row.Position} of column '{input.Name}' is {image.Width}×{image.Height}, smaller than the crop {Width}×{Height}");
        return Centered ? image.Crop((image.Width - Width) / 2, (image.Height - Height) / 2, Width, Height) : image.Crop(0, 0, Width, Height);
    }

    // *** Binary format ***
    // string: output column; string: input column; int: width; int: height; bool: centred
    private protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = BeginSave(ctx, Version);
        w.Write(Width);
        w.Write(Height);
        w.Write(Centered);
    }

    private static ImageCroppingTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        var (r, output, input) = BeginLoad(ctx, Version);
        int width = r.ReadInt32(), height = r.ReadInt32();
        bool centered = r.ReadBoolean();
        if (width < 1 || height < 1) throw new InvalidDataException($"{ModelParts.PartName(ctx)} (CropImages): crop {width}×{height} is not positive");
        return new(output, width, height, centered, input);
    }
}

/// <summary>
/// Resizes to a fixed size with MATLAB's bicubic <c>imresize</c> (antialiased when shrinking), rounded to 8 bits — the
/// resampling the papers' LR images and <c>rescale eval</c>'s bicubic baseline use (ML.NET's <c>ResizeImages</c> uses
/// SkiaSharp's filters, which differ).
/// </summary>
public sealed class ImageBicubicResizingTransformer : ImageColumnTransformer
{
    internal const string LoaderSignature = "RescaleBicubicResize";
    private static VersionInfo Version => ModelParts.Version("RSCBICUB", 0x00010001, LoaderSignature, typeof(ImageBicubicResizingTransformer));

    internal ImageBicubicResizingTransformer(string outputColumnName, int imageWidth, int imageHeight, string? inputColumnName)
        : base(outputColumnName, inputColumnName)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(imageWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageHeight, 1);
        (ImageWidth, ImageHeight) = (imageWidth, imageHeight);
    }

    /// <summary>Output width.</summary>
    public int ImageWidth { get; }
    /// <summary>Output height.</summary>
    public int ImageHeight { get; }

    private protected override ImageDataViewType OutputImageType(ImageDataViewType input) => new(ImageHeight, ImageWidth);

    private protected override object Map(RowInputs row, DataViewSchema.Column input) =>
        Resize.Bicubic(row.Image(input), ImageWidth, ImageHeight).Quantize8();

    // *** Binary format ***
    // string: output column; string: input column; int: width; int: height
    private protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = BeginSave(ctx, Version);
        w.Write(ImageWidth);
        w.Write(ImageHeight);
    }

    private static ImageBicubicResizingTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        var (r, output, input) = BeginLoad(ctx, Version);
        int width = r.ReadInt32(), height = r.ReadInt32();
        if (width < 1 || height < 1) throw new InvalidDataException($"{ModelParts.PartName(ctx)} (ResizeImagesBicubic): size {width}×{height} is not positive");
        return new(output, width, height, input);
    }
}

/// <summary>
/// Passes images through a real lossy codec (libjpeg-turbo with exact quality factors, or libwebp; 4:2:0) and decodes
/// them again: what a client receives. The output keeps the input column's size and annotations (an LR compressed is
/// still that network's LR, so a <c>CompressionAwareUpscaler</c> after it finds the network).
/// </summary>
public sealed class ImageCompressingTransformer : ImageColumnTransformer
{
    internal const string LoaderSignature = "RescaleCompressImages";
    private static VersionInfo Version => ModelParts.Version("RSCCOMPR", 0x00010001, LoaderSignature, typeof(ImageCompressingTransformer));

    internal ImageCompressingTransformer(string outputColumnName, LossyCodec codec, string? inputColumnName)
        : base(outputColumnName, inputColumnName) => Codec = codec.Validated();

    /// <summary>The codec and quality.</summary>
    public LossyCodec Codec { get; }

    private protected override ImageDataViewType OutputImageType(ImageDataViewType input) => input;
    private protected override DataViewSchema.Annotations? OutputAnnotations(DataViewSchema.Column input) => input.Annotations;
    private protected override SchemaShape? OutputAnnotationsShape(SchemaShape.Column input) => input.Annotations;
    private protected override object Map(RowInputs row, DataViewSchema.Column input) => Codec.Apply(row.Image(input));

    // *** Binary format ***
    // string: output column; string: input column; string: codec ("jpeg:75", "webp:80")
    private protected override void SaveModel(ModelSaveContext ctx)
    {
        BeginSave(ctx, Version);
        ModelParts.WriteString(ctx, Codec.ToString());
    }

    private static ImageCompressingTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        var (_, output, input) = BeginLoad(ctx, Version);
        string codec = ModelParts.ReadString(ctx);
        try
        {
            return new(output, LossyCodec.Parse(codec), input);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new InvalidDataException($"{ModelParts.PartName(ctx)} (CompressImages): {e.Message}", e);
        }
    }
}

/// <summary>
/// Writes each image of a column to a folder (atomically: a temporary file, then a rename) and outputs the written path.
/// Lazy like every transformer: a file is written when its row's path is read.
/// </summary>
public sealed class ImageSavingTransformer : ImageColumnTransformer
{
    internal const string LoaderSignature = "RescaleSaveImages";
    private static VersionInfo Version => ModelParts.Version("RSCSAVEI", 0x00010001, LoaderSignature, typeof(ImageSavingTransformer));

    internal ImageSavingTransformer(string outputColumnName, string folder, ImageFormat format, string inputColumnName, string? nameColumnName)
        : base(outputColumnName, inputColumnName)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        (Folder, Format, NameColumnName) = (folder, format, string.IsNullOrEmpty(nameColumnName) ? null : nameColumnName);
    }

    /// <summary>Where the images go.</summary>
    public string Folder { get; }
    /// <summary>The file format.</summary>
    public ImageFormat Format { get; }
    /// <summary>A text column (e.g. the source path) whose file name, without extension, names each file; null: the row index.</summary>
    public string? NameColumnName { get; }

    private protected override bool OutputIsText => true;
    private protected override IReadOnlyList<string> ExtraTextInputs => NameColumnName is null ? [] : [NameColumnName];

    private protected override object Map(RowInputs row, DataViewSchema.Column input)
    {
        var image = row.Image(input);
        string name = NameColumnName is null ? row.Position.ToString("D6", CultureInfo.InvariantCulture)
            : Path.GetFileNameWithoutExtension(row.Text(NameColumnName));
        string extension = Format switch { ImageFormat.Jpeg => ".jpg", ImageFormat.Webp => ".webp", ImageFormat.Bmp => ".bmp", _ => ".png" };
        Directory.CreateDirectory(Folder);
        string path = Path.Combine(Folder, name + extension);
        ImageFile.Write(image, path);
        return path;
    }

    // *** Binary format ***
    // string: output column; string: input column; string: folder; int: format (ImageFormat); bool: has a name column; [string: name column]
    private protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = BeginSave(ctx, Version);
        ModelParts.WriteString(ctx, Folder);
        w.Write((int)Format);
        w.Write(NameColumnName is not null);
        if (NameColumnName is not null) ModelParts.WriteString(ctx, NameColumnName);
    }

    private static ImageSavingTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        var (r, output, input) = BeginLoad(ctx, Version);
        string folder = ModelParts.ReadString(ctx);
        int format = r.ReadInt32();
        if (!Enum.IsDefined((ImageFormat)format)) throw new InvalidDataException($"{ModelParts.PartName(ctx)} (SaveImages): unknown image format {format}");
        string? nameColumn = r.ReadBoolean() ? ModelParts.ReadString(ctx) : null;
        return new(output, folder, (ImageFormat)format, input, nameColumn);
    }
}
