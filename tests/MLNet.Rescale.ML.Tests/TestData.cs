using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Data;

// Components set process-wide libtorch state and the machine has few cores: run serially.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace MLNet.Rescale.ML.Tests;

/// <summary>A row of in-memory test data.</summary>
public sealed class ImageRow
{
    public string Name { get; set; } = "";
    public Image Image { get; set; } = null!;
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
            Images.Add(new ImageRow { Name = name, Image = crop });
        }
    }

    /// <summary>The folder holding bird.png and butterfly.png (64×64).</summary>
    public string Folder { get; }

    /// <summary>The same images in memory.</summary>
    public List<ImageRow> Images { get; } = [];

    /// <summary>A fresh file path in a fresh temporary folder (deleted with the fixture).</summary>
    public string TempFile(string name)
    {
        var dir = Directory.CreateDirectory(Path.Combine(Folder, "..", Path.GetFileName(Folder) + "-out", Guid.NewGuid().ToString("N"))).FullName;
        return Path.Combine(dir, name);
    }

    public IDataView InMemory(RescaleContext ctx) => ctx.Data.LoadFromEnumerable(Images);

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
