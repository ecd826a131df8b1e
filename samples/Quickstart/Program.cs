// Quickstart: round-trip an image through the shipped ×2 model with the library API.
//   dotnet run --project samples/Quickstart [IMAGE] [MODEL]
using MLNet.Rescale;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;

string root = FindRepoRoot();
string imagePath = args.Length > 0 ? args[0] : Path.Combine(root, "tests", "fixtures", "images", "butterfly.png");
string modelPath = args.Length > 1 ? args[1] : Path.Combine(root, "models", "irn-x2.safetensors");

using var network = ModelFile.Load(modelPath);
var rescaler = new Rescaler(network, new RescalerOptions { Seed = 0 });

var hr = ImageFile.Read(imagePath).ToRgb().ModCrop(rescaler.Scale);
var lr = rescaler.Downscale(hr);                       // 8-bit LR, a quarter of the pixels at ×2
var restored = rescaler.Upscale(lr, hr.Width, hr.Height);
var bicubic = Resize.BicubicScaleUint8(Resize.BicubicScaleUint8(hr, 1.0 / rescaler.Scale), rescaler.Scale);

int s = rescaler.Scale;
Console.WriteLine($"{Path.GetFileName(imagePath)} {hr.Width}×{hr.Height} → {lr.Width}×{lr.Height} → {restored.Width}×{restored.Height}");
Console.WriteLine($"  {network.Architecture} ×{s}: Y-PSNR {Metrics.Psnr(restored, hr, s, yOnly: true):F2} dB, SSIM {Metrics.Ssim(restored, hr, s, yOnly: true):F4}");
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
