// Quickstart: round-trip an image through the shipped ×2 model as an ML.NET pipeline.
//   dotnet run --project samples/Quickstart [IMAGE] [MODEL]
using Microsoft.ML;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML;
using MLNet.Rescale.ML.Data;

string root = FindRepoRoot();
string imagePath = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine(root, "tests", "fixtures", "images", "butterfly.png"));
string modelPath = args.Length > 1 ? args[1] : Path.Combine(root, "models", "irn-x2.safetensors");

var ml = new MLContext(seed: 0);
var data = ml.Data.LoadFromEnumerable([new ImageInput { Path = imagePath }]);
using var model = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "Path")
    .Append(ml.Transforms.ModCropImages("Image", scale: 2))                     // sides cut to multiples of the scale, as the papers score
    .Append(ml.Transforms.InvertibleDownscaler(modelPath, outputColumnName: "LR", inputColumnName: "Image"))
    .Append(ml.Transforms.CompressionAwareUpscaler(outputColumnName: "Upscaled", inputColumnName: "LR"))
    .Fit(data);
var scored = model.Transform(data);
var metrics = ml.Rescaling().Evaluate(scored, labelColumnName: "Image", scoreColumnName: "Upscaled");

// The images, as the network's Image type (MLImage columns convert both ways exactly).
var row = ml.Data.CreateEnumerable<Output>(scored, reuseRowObject: false).Single();
Image hr = row.Image.ToImage(), lr = row.LR.ToImage(), restored = row.Upscaled.ToImage();
int s = metrics.CropBorder;
var bicubic = Resize.BicubicScaleUint8(Resize.BicubicScaleUint8(hr, 1.0 / s), s);

Console.WriteLine($"{Path.GetFileName(imagePath)} {hr.Width}×{hr.Height} → {lr.Width}×{lr.Height} → {restored.Width}×{restored.Height}");
Console.WriteLine($"  pipeline ×{s}: Y-PSNR {metrics.PsnrY:F2} dB, SSIM {metrics.SsimY:F4}");
Console.WriteLine($"  bicubic: Y-PSNR {Metrics.Psnr(bicubic, hr, s, yOnly: true):F2} dB, SSIM {Metrics.Ssim(bicubic, hr, s, yOnly: true):F4}");

var outDir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "mlnet-rescale-quickstart")).FullName;
ImageFile.Write(lr, Path.Combine(outDir, "lr.png"));
ImageFile.Write(restored, Path.Combine(outDir, "restored.png"));
Console.WriteLine($"  wrote {outDir}/lr.png and restored.png");

static string FindRepoRoot()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "MLNet.Rescale.sln"))) return d.FullName;
    return Directory.GetCurrentDirectory();
}

/// <summary>The pipeline's input: the image file's path.</summary>
sealed class ImageInput
{
    public string Path { get; set; } = "";
}

/// <summary>The columns read back: the HR, LR and restored images.</summary>
sealed class Output
{
    public Microsoft.ML.Data.MLImage Image { get; set; } = null!;
    public Microsoft.ML.Data.MLImage LR { get; set; } = null!;
    public Microsoft.ML.Data.MLImage Upscaled { get; set; } = null!;
}
