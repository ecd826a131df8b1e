using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;

namespace MLNet.Rescale.Evaluation;

/// <summary>Scores of one image: the network's round trip and the bicubic down/up baseline.</summary>
public sealed record ImageScore(string Name, int Width, int Height, double PsnrY, double SsimY, double BicubicPsnrY, double BicubicSsimY)
{
    /// <summary>Y-PSNR of the round trip whose LR was optimized collaboratively (HCD), when evaluated.</summary>
    public double? CollaborativePsnrY { get; init; }
    /// <summary>Y-SSIM of the collaborative round trip, when evaluated.</summary>
    public double? CollaborativeSsimY { get; init; }
    /// <summary>Seconds the collaborative optimization of this image took.</summary>
    public double? CollaborativeSeconds { get; init; }
}

/// <summary>
/// The images of one round trip (<see cref="Evaluator.RoundTrip"/>): <see cref="Hr"/> is the modcropped RGB original,
/// <see cref="Lr"/> the LR the upscaler received (after the codec, if any), <see cref="Restored"/> its upscale,
/// <see cref="Bicubic"/> bicubic down/up (through the same codec), and, when HCD ran, the LR it sent
/// (<see cref="CollaborativeLr"/>, after the codec) and that LR's upscale.
/// </summary>
public sealed record RoundTripImages(ImageScore Score, Image Hr, Image Lr, Image Restored, Image Bicubic, Image? CollaborativeLr,
    Image? CollaborativeRestored);

/// <summary>Mean scores over a folder, with the per-image rows.</summary>
public sealed record EvaluationReport(IReadOnlyList<ImageScore> Images)
{
    /// <summary>Mean Y-PSNR of the round trip.</summary>
    public double PsnrY => Images.Average(i => i.PsnrY);
    /// <summary>Mean Y-SSIM of the round trip.</summary>
    public double SsimY => Images.Average(i => i.SsimY);
    /// <summary>Mean Y-PSNR of bicubic down/up.</summary>
    public double BicubicPsnrY => Images.Average(i => i.BicubicPsnrY);
    /// <summary>Mean Y-SSIM of bicubic down/up.</summary>
    public double BicubicSsimY => Images.Average(i => i.BicubicSsimY);
    /// <summary>Mean Y-PSNR of the collaborative round trip, if it was evaluated.</summary>
    public double? CollaborativePsnrY => Images.All(i => i.CollaborativePsnrY.HasValue) ? Images.Average(i => i.CollaborativePsnrY!.Value) : null;
    /// <summary>Mean Y-SSIM of the collaborative round trip, if it was evaluated.</summary>
    public double? CollaborativeSsimY => Images.All(i => i.CollaborativeSsimY.HasValue) ? Images.Average(i => i.CollaborativeSsimY!.Value) : null;
    /// <summary>Seconds of collaborative optimization per HR megapixel, over all images.</summary>
    public double? CollaborativeSecondsPerMegapixel => Images.All(i => i.CollaborativeSeconds.HasValue)
        ? Images.Sum(i => i.CollaborativeSeconds!.Value) / (Images.Sum(i => (double)i.Width * i.Height) / 1e6) : null;
}

/// <summary>
/// Round-trip evaluation as the papers report it: each HR image is modcropped to the scale, downscaled and
/// upscaled; Y-PSNR and SSIM on the BT.601 luma with a border of <c>scale</c> pixels cropped. The baseline is
/// MATLAB bicubic down then up on the 8-bit image.
/// </summary>
public static class Evaluator
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".webp"];

    /// <summary>The image files of a folder, sorted by name.</summary>
    public static IReadOnlyList<string> ImageFiles(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: evaluation folder not found");
        var files = Directory.EnumerateFiles(folder).Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal).ToList();
        return files.Count > 0 ? files : throw new InvalidDataException($"{folder}: no PNG/JPEG/BMP/WebP images");
    }

    /// <summary>
    /// Scores one HR image. <paramref name="lrTransform"/> may alter the LR before upscaling (e.g. a codec); with
    /// <paramref name="collaborative"/> the round trip is also scored with a collaboratively optimized LR (same
    /// latent seed for upscaling, so the two differ only in the LR).
    /// </summary>
    public static ImageScore Score(Rescaler rescaler, string name, Image hrInput, Func<Image, Image>? lrTransform = null,
        CollaborativeOptimizer? collaborative = null, Action? step = null) =>
        RoundTrip(rescaler, name, hrInput, lrTransform, collaborative, step).Score;

    /// <summary>
    /// As <see cref="Score"/>, keeping the images: the modcropped HR, the restored image, bicubic down/up and the
    /// collaborative round trip (for visual comparisons).
    /// </summary>
    public static RoundTripImages RoundTrip(Rescaler rescaler, string name, Image hrInput, Func<Image, Image>? lrTransform = null,
        CollaborativeOptimizer? collaborative = null, Action? step = null)
    {
        int s = rescaler.Scale;
        var hr = hrInput.SplitAlpha(out _).ToRgb().ModCrop(s);
        var lr = rescaler.Downscale(hr);
        if (lrTransform is not null) lr = lrTransform(lr);
        var sr = rescaler.Upscale(lr, hr.Width, hr.Height);
        var bicLr = Resize.BicubicScaleUint8(hr, 1.0 / s);
        if (lrTransform is not null) bicLr = lrTransform(bicLr);
        var bic = Resize.BicubicScaleUint8(bicLr, s);
        var score = new ImageScore(name, hr.Width, hr.Height,
            Metrics.Psnr(sr, hr, s, yOnly: true), Metrics.Ssim(sr, hr, s, yOnly: true),
            Metrics.Psnr(bic, hr, s, yOnly: true), Metrics.Ssim(bic, hr, s, yOnly: true));
        if (collaborative is null) return new RoundTripImages(score, hr, lr, sr, bic, null, null);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var optimized = collaborative.Downscale(rescaler, hr, step);
        double seconds = clock.Elapsed.TotalSeconds;
        if (lrTransform is not null) optimized = lrTransform(optimized);
        var srOptimized = rescaler.Upscale(optimized, hr.Width, hr.Height);
        score = score with
        {
            CollaborativePsnrY = Metrics.Psnr(srOptimized, hr, s, yOnly: true),
            CollaborativeSsimY = Metrics.Ssim(srOptimized, hr, s, yOnly: true),
            CollaborativeSeconds = seconds,
        };
        return new RoundTripImages(score, hr, lr, sr, bic, optimized, srOptimized);
    }

    /// <summary>Scores every image of a folder; <paramref name="progress"/> gets (done, total) after each.</summary>
    public static EvaluationReport Run(Rescaler rescaler, string folder, Func<Image, Image>? lrTransform = null,
        Action<int, int>? progress = null, CollaborativeOptimizer? collaborative = null, Action? step = null)
    {
        var files = ImageFiles(folder);
        var rows = new List<ImageScore>();
        foreach (var f in files)
        {
            rows.Add(Score(rescaler, Path.GetFileNameWithoutExtension(f), ImageFile.Read(f), lrTransform, collaborative, step));
            progress?.Invoke(rows.Count, files.Count);
        }
        return new EvaluationReport(rows);
    }
}
