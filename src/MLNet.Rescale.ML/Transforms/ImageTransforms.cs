using System.Globalization;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Core;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Model;

namespace MLNet.Rescale.ML.Transforms;

/// <summary>Reads image files named by a text column (PNG, JPEG, WebP, BMP) into an image column.</summary>
public sealed class ImageLoadingTransformer : ColumnTransformer
{
    internal const string Kind = "LoadImages";

    internal ImageLoadingTransformer(string outputColumnName, string? imageFolder, string? inputColumnName)
        : base(outputColumnName, inputColumnName) => ImageFolder = imageFolder;

    /// <summary>The folder relative paths are resolved against (null: the paths as they are).</summary>
    public string? ImageFolder { get; }

    private protected override DataViewType InputType => TextDataViewType.Instance;

    private protected override object Map(MappedRow row)
    {
        var path = row.Get<string>(InputColumnName);
        return ImageFile.Read(ImageFolder is null ? path : Path.Combine(ImageFolder, path));
    }

    // *** Model format ***
    // options: ImageFolder (string or null), Input, Output (column names).
    private sealed record State(string? ImageFolder, string Input, string Output);

    /// <inheritdoc/>
    public override void Save(ModelSaveContext ctx)
    {
        ctx.SetKind(Kind);
        ctx.SetOptions(new State(ImageFolder, InputColumnName, OutputColumnName));
    }

    internal static ImageLoadingTransformer Load(ModelLoadContext ctx)
    {
        var s = ctx.ReadOptions<State>();
        return new(s.Output, s.ImageFolder, s.Input);
    }
}

/// <summary>Resizes images to a fixed size with MATLAB's bicubic <c>imresize</c> (antialiased when shrinking), rounded to 8 bits.</summary>
public sealed class ImageResizingTransformer : ColumnTransformer
{
    internal const string Kind = "ResizeImages";

    internal ImageResizingTransformer(string outputColumnName, int imageWidth, int imageHeight, string? inputColumnName)
        : base(outputColumnName, inputColumnName)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(imageWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageHeight, 1);
        ImageWidth = imageWidth;
        ImageHeight = imageHeight;
    }

    /// <summary>Output width.</summary>
    public int ImageWidth { get; }
    /// <summary>Output height.</summary>
    public int ImageHeight { get; }

    private protected override object Map(MappedRow row) => Resize.Bicubic(row.Get<Image>(InputColumnName), ImageWidth, ImageHeight).Quantize8();

    // *** Model format ***
    // options: Width, Height, Input, Output.
    private sealed record State(int Width, int Height, string Input, string Output);

    /// <inheritdoc/>
    public override void Save(ModelSaveContext ctx)
    {
        ctx.SetKind(Kind);
        ctx.SetOptions(new State(ImageWidth, ImageHeight, InputColumnName, OutputColumnName));
    }

    internal static ImageResizingTransformer Load(ModelLoadContext ctx)
    {
        var s = ctx.ReadOptions<State>();
        return new(s.Output, s.Width, s.Height, s.Input);
    }
}

/// <summary>Where a crop sits in the image.</summary>
public enum ImageCropAnchor
{
    /// <summary>The top-left corner (as the super-resolution literature's modcrop).</summary>
    TopLeft,
    /// <summary>The centre (rounded towards the top-left).</summary>
    Center,
}

/// <summary>Crops images to a fixed size at an anchor; an image smaller than the crop is an error naming the row.</summary>
public sealed class ImageCroppingTransformer : ColumnTransformer
{
    internal const string Kind = "CropImages";

    internal ImageCroppingTransformer(string outputColumnName, int width, int height, ImageCropAnchor anchor, string? inputColumnName)
        : base(outputColumnName, inputColumnName)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        Width = width;
        Height = height;
        Anchor = anchor;
    }

    /// <summary>Crop width.</summary>
    public int Width { get; }
    /// <summary>Crop height.</summary>
    public int Height { get; }
    /// <summary>Where the crop sits.</summary>
    public ImageCropAnchor Anchor { get; }

    private protected override object Map(MappedRow row)
    {
        var image = row.Get<Image>(InputColumnName);
        if (image.Width < Width || image.Height < Height)
            throw new InvalidOperationException($"CropImages: row {row.Position} of column '{InputColumnName}' is {image.Width}×{image.Height}, smaller than the crop {Width}×{Height}");
        int x = Anchor == ImageCropAnchor.Center ? (image.Width - Width) / 2 : 0;
        int y = Anchor == ImageCropAnchor.Center ? (image.Height - Height) / 2 : 0;
        return image.Crop(x, y, Width, Height);
    }

    // *** Model format ***
    // options: Width, Height, Anchor (TopLeft or Center), Input, Output.
    private sealed record State(int Width, int Height, ImageCropAnchor Anchor, string Input, string Output);

    /// <inheritdoc/>
    public override void Save(ModelSaveContext ctx)
    {
        ctx.SetKind(Kind);
        ctx.SetOptions(new State(Width, Height, Anchor, InputColumnName, OutputColumnName));
    }

    internal static ImageCroppingTransformer Load(ModelLoadContext ctx)
    {
        var s = ctx.ReadOptions<State>();
        return new(s.Output, s.Width, s.Height, s.Anchor, s.Input);
    }
}

/// <summary>
/// Crops each image to the largest size that is a multiple of <see cref="Scale"/>, keeping the top-left corner — the
/// super-resolution literature's modcrop, which <c>rescale eval</c> applies before downscaling. Placed before an
/// <c>InvertibleDownscaler</c>, it makes a pipeline's <c>Evaluate</c> score exactly what <c>rescale eval</c> scores.
/// </summary>
public sealed class ImageModCropTransformer : ColumnTransformer
{
    internal const string Kind = "ModCropImages";

    internal ImageModCropTransformer(string outputColumnName, int scale, string? inputColumnName)
        : base(outputColumnName, inputColumnName)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 1);
        Scale = scale;
    }

    /// <summary>The factor both sides are cropped to a multiple of.</summary>
    public int Scale { get; }

    private protected override object Map(MappedRow row)
    {
        var image = row.Get<Image>(InputColumnName);
        if (image.Width < Scale || image.Height < Scale)
            throw new InvalidOperationException($"ModCropImages: row {row.Position} of column '{InputColumnName}' is {image.Width}×{image.Height}, smaller than the scale {Scale}");
        return image.ModCrop(Scale);
    }

    // *** Model format ***
    // options: Scale, Input, Output.
    private sealed record State(int Scale, string Input, string Output);

    /// <inheritdoc/>
    public override void Save(ModelSaveContext ctx)
    {
        ctx.SetKind(Kind);
        ctx.SetOptions(new State(Scale, InputColumnName, OutputColumnName));
    }

    internal static ImageModCropTransformer Load(ModelLoadContext ctx)
    {
        var s = ctx.ReadOptions<State>();
        if (s.Scale < 1) throw ctx.Error($"{Kind}: scale must be ≥ 1, got {s.Scale}");
        return new(s.Output, s.Scale, s.Input);
    }
}

/// <summary>Converts images to one grey channel, 0.299 R + 0.587 G + 0.114 B (BT.601 weights), rounded to 8 bits; alpha is dropped.</summary>
public sealed class ImageGrayscaleTransformer : ColumnTransformer
{
    internal const string Kind = "ConvertToGrayscale";

    internal ImageGrayscaleTransformer(string outputColumnName, string? inputColumnName) : base(outputColumnName, inputColumnName) { }

    private protected override object Map(MappedRow row)
    {
        var rgb = row.Get<Image>(InputColumnName).SplitAlpha(out _).ToRgb();
        int n = rgb.PlaneSize;
        var grey = new float[n];
        for (int i = 0; i < n; i++) grey[i] = 0.299f * rgb.Data[i] + 0.587f * rgb.Data[n + i] + 0.114f * rgb.Data[2 * n + i];
        return new Image(rgb.Width, rgb.Height, 1, grey, rgb.BitDepth).Quantize8();
    }

    // *** Model format ***
    // options: Input, Output.
    private sealed record State(string Input, string Output);

    /// <inheritdoc/>
    public override void Save(ModelSaveContext ctx)
    {
        ctx.SetKind(Kind);
        ctx.SetOptions(new State(InputColumnName, OutputColumnName));
    }

    internal static ImageGrayscaleTransformer Load(ModelLoadContext ctx)
    {
        var s = ctx.ReadOptions<State>();
        return new(s.Output, s.Input);
    }
}

/// <summary>
/// Passes images through a real lossy codec (libjpeg-turbo or libwebp, 4:2:0) at a quality and decodes them again: what a
/// client receives. The output keeps the input column's annotations (an LR compressed is still that network's LR).
/// </summary>
public sealed class ImageCompressingTransformer : ColumnTransformer
{
    internal const string Kind = "CompressImages";

    internal ImageCompressingTransformer(string outputColumnName, ImageFormat format, int quality, string? inputColumnName)
        : base(outputColumnName, inputColumnName) => Codec = new LossyCodec(format, quality).Validated();

    /// <summary>The codec and quality.</summary>
    public LossyCodec Codec { get; }

    private protected override bool KeepsAnnotations => true;

    private protected override object Map(MappedRow row) => Codec.Apply(row.Get<Image>(InputColumnName));

    // *** Model format ***
    // options: Codec ("jpeg:75" or "webp:80"), Input, Output.
    private sealed record State(string Codec, string Input, string Output);

    /// <inheritdoc/>
    public override void Save(ModelSaveContext ctx)
    {
        ctx.SetKind(Kind);
        ctx.SetOptions(new State(Codec.ToString(), InputColumnName, OutputColumnName));
    }

    internal static ImageCompressingTransformer Load(ModelLoadContext ctx)
    {
        var s = ctx.ReadOptions<State>();
        LossyCodec codec;
        try { codec = LossyCodec.Parse(s.Codec); }
        catch (FormatException e) { throw ctx.Error($"CompressImages: {e.Message}"); }
        return new(s.Output, codec.Format, codec.Quality, s.Input);
    }
}

/// <summary>
/// Writes each image of a column to a folder (atomically) and outputs the written path. Lazy like every transformer: a
/// file is written when its row's path is read, e.g. by <c>GetColumn</c> or an evaluation.
/// </summary>
public sealed class ImageSavingTransformer : ColumnTransformer
{
    internal const string Kind = "SaveImages";

    internal ImageSavingTransformer(string outputColumnName, string folder, ImageFormat format, string inputColumnName, string? nameColumnName)
        : base(outputColumnName, inputColumnName)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Folder = folder;
        Format = format;
        NameColumnName = nameColumnName;
    }

    /// <summary>Where the images go.</summary>
    public string Folder { get; }
    /// <summary>The file format.</summary>
    public ImageFormat Format { get; }
    /// <summary>A text column (e.g. the source path) whose file name, without extension, names each file; null: the row index.</summary>
    public string? NameColumnName { get; }

    private protected override DataViewType OutputType => TextDataViewType.Instance;

    private protected override IReadOnlyList<(string Name, DataViewType Type)> ExtraInputs =>
        NameColumnName is null ? [] : [(NameColumnName, TextDataViewType.Instance)];

    private protected override object Map(MappedRow row)
    {
        var image = row.Get<Image>(InputColumnName);
        string name = NameColumnName is null ? row.Position.ToString("D6", CultureInfo.InvariantCulture)
            : Path.GetFileNameWithoutExtension(row.Get<string>(NameColumnName));
        string extension = Format switch { ImageFormat.Jpeg => ".jpg", ImageFormat.Webp => ".webp", ImageFormat.Bmp => ".bmp", _ => ".png" };
        Directory.CreateDirectory(Folder);
        string path = Path.Combine(Folder, name + extension);
        ImageFile.Write(image, path);
        return path;
    }

    // *** Model format ***
    // options: Folder, Format (Png, Jpeg, Webp, Bmp), Input, Output, NameColumn (or null).
    private sealed record State(string Folder, ImageFormat Format, string Input, string Output, string? NameColumn);

    /// <inheritdoc/>
    public override void Save(ModelSaveContext ctx)
    {
        ctx.SetKind(Kind);
        ctx.SetOptions(new State(Folder, Format, InputColumnName, OutputColumnName, NameColumnName));
    }

    internal static ImageSavingTransformer Load(ModelLoadContext ctx)
    {
        var s = ctx.ReadOptions<State>();
        return new(s.Output, s.Folder, s.Format, s.Input, s.NameColumn);
    }
}
