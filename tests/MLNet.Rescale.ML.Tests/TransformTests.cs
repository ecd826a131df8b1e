using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Transforms;
using static MLNet.Rescale.ML.Tests.EstimatorChecks;

namespace MLNet.Rescale.ML.Tests;

[Collection(SmallImagesCollection.Name)]
public sealed class TransformTests(SmallImages small)
{
    private readonly RescaleContext ml = new(seed: 1);

    private IDataView Paths() => ml.Data.LoadFromDirectory(small.Folder);

    [Fact]
    public void LoadImages_reads_the_files_of_the_path_column()
    {
        var t = TestEstimatorCore(ml.Transforms.LoadImages("Image", null, "ImagePath"), Paths(), small.TempFile("m.zip"),
            invalidInput: small.InMemory(ml));
        var images = t.Transform(Paths()).GetColumn<Image>("Image").ToList();
        Assert.Equal(small.Images.Select(r => r.Image.Data), images.Select(i => i.Data));
    }

    [Fact]
    public void LoadImages_names_a_missing_file()
    {
        var data = ml.Data.LoadFromEnumerable(new[] { new { ImagePath = Path.Combine(small.Folder, "missing.png") } }.Select(a => new PathRow { ImagePath = a.ImagePath }));
        var output = ml.Transforms.LoadImages("Image", null, "ImagePath").Fit(data).Transform(data);
        var e = Assert.ThrowsAny<IOException>(() => output.GetColumn<Image>("Image").ToList());
        Assert.Contains("missing.png", e.Message);
    }

    [Fact]
    public void ResizeImages_is_MATLAB_bicubic_rounded_to_8_bits()
    {
        var t = TestEstimatorCore(ml.Transforms.ResizeImages("Small", 40, 24, "Image"), small.InMemory(ml), small.TempFile("m.zip"));
        var resized = t.Transform(small.InMemory(ml)).GetColumn<Image>("Small").First();
        Assert.Equal((40, 24), (resized.Width, resized.Height));
        Assert.Equal(Resize.Bicubic(small.Images[0].Image, 40, 24).Quantize8().Data, resized.Data);
    }

    [Fact]
    public void CropImages_crops_at_the_anchor_and_names_a_too_small_row()
    {
        var t = TestEstimatorCore(ml.Transforms.CropImages("Crop", 30, 20, "Image", ImageCropAnchor.Center), small.InMemory(ml), small.TempFile("m.zip"));
        var crop = t.Transform(small.InMemory(ml)).GetColumn<Image>("Crop").First();
        Assert.Equal(small.Images[0].Image.Crop(17, 22, 30, 20).Data, crop.Data);

        var tooBig = ml.Transforms.CropImages("Crop", 100, 100, "Image").Fit(small.InMemory(ml)).Transform(small.InMemory(ml));
        var e = Assert.Throws<InvalidOperationException>(() => tooBig.GetColumn<Image>("Crop").ToList());
        Assert.Contains("row 0", e.Message);
        Assert.Contains("64×64", e.Message);
    }

    [Fact]
    public void ModCropImages_cuts_each_side_to_a_multiple_of_the_scale_at_the_top_left()
    {
        var rows = small.Images.Select(r => new ImageRow { Name = r.Name, Image = r.Image.Crop(3, 5, 61, 58) }).ToList();
        var t = TestEstimatorCore(ml.Transforms.ModCropImages("HR", 4, "Image"), ml.Data.LoadFromEnumerable(rows), small.TempFile("m.zip"));
        var crop = t.Transform(ml.Data.LoadFromEnumerable(rows)).GetColumn<Image>("HR").First();
        Assert.Equal((60, 56), (crop.Width, crop.Height));
        Assert.Equal(rows[0].Image.Crop(0, 0, 60, 56).Data, crop.Data);

        var tiny = ml.Data.LoadFromEnumerable([new ImageRow { Name = "t", Image = rows[0].Image.Crop(0, 0, 3, 9) }]);
        var e = Assert.Throws<InvalidOperationException>(() => t.Transform(tiny).GetColumn<Image>("HR").ToList());
        Assert.Contains("3×9", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.ModCropImages("HR", 0, "Image"));
    }

    [Fact]
    public void ConvertToGrayscale_gives_one_BT601_channel()
    {
        var t = TestEstimatorCore(ml.Transforms.ConvertToGrayscale("Grey", "Image"), small.InMemory(ml), small.TempFile("m.zip"));
        var grey = t.Transform(small.InMemory(ml)).GetColumn<Image>("Grey").First();
        var rgb = small.Images[0].Image;
        Assert.Equal(1, grey.Channels);
        int i = 10 * 64 + 20, n = rgb.PlaneSize;
        double expected = Math.Round((0.299 * rgb.Data[i] + 0.587 * rgb.Data[n + i] + 0.114 * rgb.Data[2 * n + i]) * 255) / 255;
        Assert.Equal(expected, grey.Data[i], 1e-6);
    }

    [Fact]
    public void CompressImages_goes_through_the_real_codec()
    {
        var t = TestEstimatorCore(ml.Transforms.CompressImages("Jpeg", ImageFormat.Jpeg, 30, "Image"), small.InMemory(ml), small.TempFile("m.zip"),
            invalidInput: Paths());
        var coded = t.Transform(small.InMemory(ml)).GetColumn<Image>("Jpeg").First();
        var original = small.Images[0].Image;
        Assert.Equal(new LossyCodec(ImageFormat.Jpeg, 30).Apply(original).Data, coded.Data);
        double psnr = Metrics.Psnr(coded, original);
        Assert.InRange(psnr, 20, 45);   // lossy, but the same picture
        Assert.Throws<FormatException>(() => ml.Transforms.CompressImages("Png", ImageFormat.Png, 30, "Image"));
    }

    [Fact]
    public void SaveImages_writes_lazily_when_the_path_is_read()
    {
        string folder = Path.Combine(Path.GetDirectoryName(small.TempFile("x"))!, "saved");
        var data = ml.Transforms.LoadImages("Image", null, "ImagePath").Fit(Paths()).Transform(Paths());
        var estimator = ml.Transforms.SaveImages("SavedPath", folder, "Image", ImageFormat.Png, nameColumnName: "ImagePath");
        var output = estimator.Fit(data).Transform(data);
        Assert.False(Directory.Exists(folder));   // Transform is lazy: nothing is written yet
        var paths = output.GetColumn<string>("SavedPath").ToList();
        Assert.Equal([Path.Combine(folder, "bird.png"), Path.Combine(folder, "butterfly.png")], paths);
        Assert.Equal(small.Images[1].Image.Data, ImageFile.Read(paths[1]).Data);
        TestEstimatorCore(estimator, data, small.TempFile("m.zip"));
    }
}

public sealed class PathRow
{
    public string ImagePath { get; set; } = "";
}
