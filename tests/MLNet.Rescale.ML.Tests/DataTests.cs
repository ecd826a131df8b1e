using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Core;
using MLNet.Rescale.ML.Data;

namespace MLNet.Rescale.ML.Tests;

[Collection(SmallImagesCollection.Name)]
public sealed class DataTests(SmallImages small)
{
    private sealed class Mixed
    {
        [ColumnName("Path")] public string File { get; set; } = "";
        public double Score { get; set; }
        public int Count;
        public float[] Features { get; set; } = [];
        public Image? Picture { get; set; }
        public DateTime Ignored { get; set; }
    }

    [Fact]
    public void LoadFromEnumerable_maps_members_to_typed_columns()
    {
        var ml = new RescaleContext(1);
        var rows = new[] { new Mixed { File = "a.png", Score = 1.5, Count = 3, Features = [1, 2], Picture = small.Images[0].Image } };
        var data = ml.Data.LoadFromEnumerable(rows);
        Assert.Equal(["Path:Text", "Score:Double", "Features:Tensor[]", "Picture:Image", "Count:Int32"],
            data.Schema.Select(c => $"{c.Name}:{c.Type}"));
        Assert.Equal(1, data.GetRowCount());
        Assert.Equal(["a.png"], data.GetColumn<string>("Path"));
        Assert.Equal([3], data.GetColumn<int>("Count"));
        Assert.Equal([1f, 2f], data.GetColumn<float[]>("Features").Single());
        var e = Assert.Throws<InvalidOperationException>(() => data.GetColumn<int>("Score").ToList());
        Assert.Contains("Score", e.Message);
    }

    [Fact]
    public void LoadFromDirectory_lists_image_files_and_names_a_missing_folder()
    {
        var ml = new RescaleContext(1);
        var data = ml.Data.LoadFromDirectory(small.Folder);
        Assert.Equal(["bird.png", "butterfly.png"], data.GetColumn<string>("ImagePath").Select(Path.GetFileName));
        var missing = Path.Combine(small.Folder, "nope");
        var e = Assert.Throws<DirectoryNotFoundException>(() => ml.Data.LoadFromDirectory(missing));
        Assert.Contains(missing, e.Message);
    }

    [Fact]
    public void TrainTestSplit_partitions_the_rows_reproducibly()
    {
        var ml = new RescaleContext(1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 20).Select(i => new PathRow { ImagePath = $"{i}.png" }).ToList());
        var split = ml.Data.TrainTestSplit(data, testFraction: 0.25, seed: 7);
        var train = split.TrainSet.GetColumn<string>("ImagePath").ToList();
        var test = split.TestSet.GetColumn<string>("ImagePath").ToList();
        Assert.Equal(5, test.Count);
        Assert.Equal(15, train.Count);
        Assert.Empty(train.Intersect(test));
        Assert.Equal(data.GetColumn<string>("ImagePath").Order(), train.Concat(test).Order());
        Assert.Equal(test, ml.Data.TrainTestSplit(data, 0.25, seed: 7).TestSet.GetColumn<string>("ImagePath"));
        Assert.NotEqual(test, ml.Data.TrainTestSplit(data, 0.25, seed: 8).TestSet.GetColumn<string>("ImagePath"));
    }

    [Fact]
    public void Transform_is_lazy_and_computes_only_the_columns_read()
    {
        var ml = new RescaleContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new PathRow { ImagePath = "does-not-exist.png" } });
        var output = ml.Transforms.LoadImages("Image", null, "ImagePath").Fit(data).Transform(data);
        // The path column is readable without loading the (missing) image; reading the image fails.
        Assert.Equal(["does-not-exist.png"], output.GetColumn<string>("ImagePath"));
        Assert.ThrowsAny<IOException>(() => output.GetColumn<Image>("Image").ToList());
    }

    [Fact]
    public void Append_chains_estimators_and_checks_the_whole_chain_before_fitting()
    {
        var ml = new RescaleContext(1);
        var pipeline = ml.Transforms.LoadImages("Image", null, "ImagePath")
            .Append(ml.Transforms.CropImages("Image", 32, 32))
            .Append(ml.Transforms.ConvertToGrayscale("Grey", "Image"));
        var shape = pipeline.GetOutputSchema(SchemaShape.Create(ml.Data.LoadFromDirectory(small.Folder).Schema));
        Assert.Equal(["ImagePath", "Image", "Grey"], shape.Select(c => c.Name));
        var model = pipeline.Fit(ml.Data.LoadFromDirectory(small.Folder));
        Assert.IsType<MLNet.Rescale.ML.Transforms.ImageGrayscaleTransformer>(model.LastTransformer);
        Assert.Equal(3, model.Count());
        var grey = model.Transform(ml.Data.LoadFromDirectory(small.Folder)).GetColumn<Image>("Grey").ToList();
        Assert.All(grey, g => Assert.Equal((32, 32, 1), (g.Width, g.Height, g.Channels)));

        // A column the chain does not have fails at once, naming it, without reading any image.
        var wrong = ml.Transforms.LoadImages("Image", null, "ImagePath").Append(ml.Transforms.CropImages("Out", 8, 8, "Picture"));
        var e = Assert.Throws<InvalidOperationException>(() => wrong.Fit(ml.Data.LoadFromDirectory(small.Folder)));
        Assert.Contains("'Picture'", e.Message);
    }
}
