using Microsoft.ML;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Imaging;
using static MLNet.Rescale.ML.Tests.EstimatorChecks;

namespace MLNet.Rescale.ML.Tests;

/// <summary>Our image transforms that ML.NET lacks, each through the TestEstimatorCore round trip.</summary>
[Collection(SmallImagesCollection.Name)]
public sealed class TransformTests(SmallImages small)
{
    private readonly MLContext ml = new(seed: 1);

    [Fact]
    public void ResizeImagesBicubic_is_MATLAB_bicubic_rounded_to_8_bits_with_a_known_size()
    {
        var t = TestEstimatorCore(ml.Transforms.ResizeImagesBicubic("Small", 40, 24, "Image"), small.InMemory(ml), small.TempFile("m.zip"),
            invalidInput: small.Paths(ml), invalidColumn: "Image");
        var output = t.Transform(small.InMemory(ml));
        Assert.Equal("Image<24, 40>", output.Schema["Small"].Type.ToString());
        Assert.Equal(Resize.Bicubic(small.Images[0], 40, 24).Quantize8().Data, output.ReadImages("Small")[0].Data);
    }

    [Fact]
    public void CropImages_crops_at_the_anchor_and_names_a_too_small_row()
    {
        var t = TestEstimatorCore(ml.Transforms.CropImages("Crop", 30, 20, "Image", centered: true), small.InMemory(ml), small.TempFile("m.zip"));
        Assert.Equal(small.Images[0].Crop(17, 22, 30, 20).Data, t.Transform(small.InMemory(ml)).ReadImages("Crop")[0].Data);

        var tooBig = ml.Transforms.CropImages("Crop", 100, 100, "Image").Fit(small.InMemory(ml)).Transform(small.InMemory(ml));
        var e = Assert.Throws<InvalidOperationException>(() => tooBig.ReadImages("Crop"));
        Assert.Contains("row 0", e.Message);
        Assert.Contains("64×64", e.Message);
    }

    [Fact]
    public void ModCropImages_cuts_each_side_to_a_multiple_of_the_scale_at_the_top_left()
    {
        var images = small.Images.Select(i => i.Crop(3, 5, 61, 58)).ToList();
        var t = TestEstimatorCore(ml.Transforms.ModCropImages("HR", 4, "Image"), ml.FromImages(images), small.TempFile("m.zip"));
        var crop = t.Transform(ml.FromImages(images)).ReadImages("HR")[0];
        Assert.Equal((60, 56), (crop.Width, crop.Height));
        Assert.Equal(images[0].Crop(0, 0, 60, 56).Data, crop.Data);

        var e = Assert.Throws<InvalidOperationException>(() => t.Transform(ml.FromImages([images[0].Crop(0, 0, 3, 9)])).ReadImages("HR"));
        Assert.Contains("3×9", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.ModCropImages("HR", 0, "Image"));
    }

    [Fact]
    public void CompressImages_goes_through_the_real_codec_and_keeps_the_size()
    {
        var sized = ml.Transforms.ResizeImagesBicubic("Image", 64, 64).Fit(small.InMemory(ml)).Transform(small.InMemory(ml));
        var t = TestEstimatorCore(ml.Transforms.CompressImages("Jpeg", "Image", "jpeg:30"), sized, small.TempFile("m.zip"),
            invalidInput: small.Paths(ml), invalidColumn: "Image");
        var output = t.Transform(sized);
        Assert.Equal(sized.Schema["Image"].Type, output.Schema["Jpeg"].Type);
        var coded = output.ReadImages("Jpeg")[0];
        var original = small.Images[0];
        Assert.Equal(new LossyCodec(ImageFormat.Jpeg, 30).Apply(original).Data, coded.Data);
        Assert.InRange(Metrics.Psnr(coded, original), 20, 45);   // lossy, but the same picture
        Assert.ThrowsAny<FormatException>(() => ml.Transforms.CompressImages("Png", "Image", "png:30"));
    }

    [Fact]
    public void SaveImages_writes_lazily_when_the_path_is_read()
    {
        string folder = Path.Combine(Path.GetDirectoryName(small.TempFile("x"))!, "saved");
        var data = ml.Transforms.LoadImages("Image", null, "ImagePath").Fit(small.Paths(ml)).Transform(small.Paths(ml));
        var estimator = ml.Transforms.SaveImages("SavedPath", folder, "Image", ImageFormat.Png, nameColumnName: "ImagePath");
        var output = estimator.Fit(data).Transform(data);
        Assert.False(Directory.Exists(folder));   // Transform is lazy: nothing is written yet
        var paths = output.ReadText("SavedPath");
        Assert.Equal([Path.Combine(folder, "bird.png"), Path.Combine(folder, "butterfly.png")], paths);
        Assert.Equal(small.Images[1].Data, ImageFile.Read(paths[1]).Data);
        TestEstimatorCore(estimator, data, small.TempFile("m.zip"));
    }
}
