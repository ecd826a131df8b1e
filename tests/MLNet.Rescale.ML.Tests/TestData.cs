using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Internals;

// Components set process-wide libtorch state and the machine has few cores: run serially.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace MLNet.Rescale.ML.Tests;

/// <summary>A row of in-memory test data: a name and an ML.NET image.</summary>
public sealed class ImageRow
{
    public string Name { get; set; } = "";
    // No [ImageType]: ML.NET 5.0.1's size-less ImageTypeAttribute() throws; the library registers MLImage as an image of any size.
    public MLImage Image { get; set; } = null!;
}

/// <summary>A row with a text column of image paths.</summary>
public sealed class PathRow
{
    public string ImagePath { get; set; } = "";
}

/// <summary>Building inputs and reading outputs of ML.NET data views in the tests.</summary>
public static class Views
{

    /// <summary>A view with columns Name and Image (an MLImage column of unknown size) holding <paramref name="images"/>.</summary>
    public static IDataView FromImages(this MLContext ml, IEnumerable<Image> images, string column = "Image")
    {
        var rows = images.Select((image, i) => new ImageRow { Name = $"image{i}", Image = image.ToMLImage() }).ToList();
        var definition = SchemaDefinition.Create(typeof(ImageRow));
        definition["Image"].ColumnName = column;
        return ml.Data.LoadFromEnumerable(rows, definition);
    }

    /// <summary>
    /// The images of an MLImage column, converted to <see cref="Image"/>. As every ML.NET consumer, it leaves the last
    /// MLImage alone: the getter disposes the previous one, and a passed-through in-memory image belongs to its row.
    /// </summary>
    public static List<Image> ReadImages(this IDataView data, string column)
    {
        var col = data.Schema[column];
        using var cursor = data.GetRowCursor([col]);
        var getter = cursor.GetGetter<MLImage>(col);
        var result = new List<Image>();
        MLImage? image = null;
        while (cursor.MoveNext())
        {
            getter(ref image!);
            result.Add(image.ToImage());
        }
        return result;
    }

    /// <summary>The strings of a text column.</summary>
    public static List<string> ReadText(this IDataView data, string column) =>
        data.GetColumn<ReadOnlyMemory<char>>(column).Select(t => t.ToString()).ToList();

    /// <summary>The shape of a schema (ML.NET keeps SchemaShape.Create internal).</summary>
    public static SchemaShape Shape(this DataViewSchema schema) => ModelParts.ShapeOf(schema);
}

/// <summary>
/// Small inputs from the fixture images: a temporary folder with 64×64 centre crops of bird and butterfly (PNG), and the
/// same crops in memory. Small enough that the networks of the tests run in milliseconds.
/// </summary>
public sealed class SmallImages : IDisposable
{
    public const int Side = 64;

    public SmallImages()
    {
        Folder = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"mlnet-rescale-ml-tests-{Guid.NewGuid():N}")).FullName;
        foreach (var name in new[] { "bird", "butterfly" })
        {
            var full = ImageFile.Read(TestPaths.Image(name + ".png"));
            var crop = full.Crop((full.Width - Side) / 2, (full.Height - Side) / 2, Side, Side);
            ImageFile.Write(crop, Path.Combine(Folder, name + ".png"));
            Images.Add(crop);
        }
    }

    /// <summary>The folder holding bird.png and butterfly.png (64×64).</summary>
    public string Folder { get; }

    /// <summary>The same images in memory.</summary>
    public List<Image> Images { get; } = [];

    /// <summary>A fresh file path in a fresh temporary folder (deleted with the fixture).</summary>
    public string TempFile(string name)
    {
        var dir = Directory.CreateDirectory(Path.Combine(Folder, "..", Path.GetFileName(Folder) + "-out", Guid.NewGuid().ToString("N"))).FullName;
        return Path.Combine(dir, name);
    }

    /// <summary>The images as an in-memory view (columns Name, Image).</summary>
    public IDataView InMemory(MLContext ml) => ml.FromImages(Images);

    /// <summary>The folder's image paths (column ImagePath).</summary>
    public IDataView Paths(MLContext ml) => ml.Rescaling().LoadImagePaths(Folder);

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
        try { Directory.Delete(Folder + "-out", recursive: true); } catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class SmallImagesCollection : ICollectionFixture<SmallImages>
{
    public const string Name = "small images";
}
