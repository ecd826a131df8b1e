using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;

namespace MLNet.Rescale.Reporting;

/// <summary>A model in a visual comparison: its name, its rescaler and, to score HCD as well, a collaborative optimizer for it.</summary>
public sealed record ComparedModel(string Name, Rescaler Rescaler, CollaborativeOptimizer? Collaborative = null);

/// <summary>Settings of the zoomed crops of a <see cref="VisualComparison"/>.</summary>
public sealed record VisualComparisonOptions
{
    /// <summary>Side of the crop in HR pixels (smaller images give a smaller crop).</summary>
    public int CropSize { get; init; } = 64;
    /// <summary>About how wide a crop is shown, in CSS pixels: crops are zoomed by the integer factor that comes closest without exceeding it.</summary>
    public int DisplaySize { get; init; } = 256;
    /// <summary>Longest side of the whole-image overview that marks where the crop lies.</summary>
    public int OverviewSize { get; init; } = 256;
}

/// <summary>One crop of a comparison: a method's output in the region of interest and its Y-PSNR against the HR crop.</summary>
/// <param name="Label">"HR", "bicubic", a model's name, or a model's name followed by " + HCD".</param>
/// <param name="Crop">The crop, at HR resolution (not zoomed).</param>
/// <param name="CropPsnrY">Y-PSNR of the crop against the HR crop (no border); null for the HR itself.</param>
public sealed record CropPanel(string Label, Image Crop, double? CropPsnrY);

/// <summary>One image of a comparison: its size, the region shown, a small overview, and the crops of every method.</summary>
public sealed record ImageComparison(string Name, int Width, int Height, CropRegion Region, int Zoom, Image Overview, IReadOnlyList<CropPanel> Panels);

/// <summary>
/// What <see cref="VisualComparison.Run"/> measured and cut out: per model an <see cref="EvaluationReport"/> (the same
/// scores as <see cref="Evaluator"/>; bicubic in every one), and per image its crops.
/// </summary>
public sealed record ComparisonResult(int Scale, IReadOnlyList<string> Models, IReadOnlyList<EvaluationReport> Reports, IReadOnlyList<ImageComparison> Images);

/// <summary>
/// Round-trips every image of a folder through several models (and bicubic, and HCD where given), scoring each as
/// <see cref="Evaluator"/> does, and keeps, per image, crops of the most detailed window of every output for a
/// side-by-side view: HR, bicubic, each model, each model + HCD. Only the crops are kept, so a folder of large
/// images costs little memory.
/// </summary>
public static class VisualComparison
{
    /// <summary>Label of the HR crop.</summary>
    public const string HrLabel = "HR";

    /// <summary>The label of a model's HCD round trip.</summary>
    public static string CollaborativeLabel(string model) => model + " + HCD";

    /// <summary>
    /// Compares <paramref name="models"/> (one scale) on every image of <paramref name="folder"/>; the LR of every
    /// method passes through <paramref name="lrTransform"/> (e.g. a codec) before upscaling. <paramref name="progress"/>
    /// gets (done, total) after each (image, model) pair; <paramref name="step"/> ticks with every HCD iteration.
    /// </summary>
    public static ComparisonResult Run(IReadOnlyList<ComparedModel> models, string folder, Func<Image, Image>? lrTransform = null,
        VisualComparisonOptions? options = null, Action<int, int>? progress = null, Action? step = null)
    {
        if (models.Count == 0) throw new ArgumentException("no model to compare", nameof(models));
        int s = models[0].Rescaler.Scale;
        if (models.Any(m => m.Rescaler.Scale != s))
            throw new ArgumentException("the models of a comparison must share one scale: " + string.Join(", ", models.Select(m => $"{m.Name} ×{m.Rescaler.Scale}")));
        if (models.Select(m => m.Name).Distinct().Count() != models.Count)
            throw new ArgumentException("the models of a comparison need distinct names: " + string.Join(", ", models.Select(m => m.Name)));
        options ??= new VisualComparisonOptions();
        if (options.CropSize < 1 || options.DisplaySize < 1 || options.OverviewSize < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "crop, display and overview sizes must be positive");
        var files = Evaluator.ImageFiles(folder);
        var rows = models.Select(_ => new List<ImageScore>()).ToList();
        var images = new List<ImageComparison>();
        int done = 0;
        foreach (var file in files)
        {
            string name = Path.GetFileNameWithoutExtension(file);
            var input = ImageFile.Read(file);
            CropRegion region = default;
            var panels = new List<CropPanel>();
            var collaborativePanels = new List<CropPanel>();
            Image? hr = null;
            for (int i = 0; i < models.Count; i++)
            {
                var trip = Evaluator.RoundTrip(models[i].Rescaler, name, input, lrTransform, models[i].Collaborative, step);
                rows[i].Add(trip.Score);
                if (hr is null)
                {
                    hr = trip.Hr;
                    region = HtmlImages.MostDetailed(hr, options.CropSize);
                    panels.Add(new CropPanel(HrLabel, region.Apply(hr), null));
                    panels.Add(Panel(CompressionSweep.Bicubic, trip.Bicubic, region, panels[0].Crop));
                }
                panels.Add(Panel(models[i].Name, trip.Restored, region, panels[0].Crop));
                if (trip.CollaborativeRestored is { } hcd) collaborativePanels.Add(Panel(CollaborativeLabel(models[i].Name), hcd, region, panels[0].Crop));
                progress?.Invoke(++done, files.Count * models.Count);
            }
            int zoom = Math.Max(1, options.DisplaySize / region.Size);
            images.Add(new ImageComparison(name, hr!.Width, hr.Height, region, zoom, Overview(hr, options.OverviewSize), [.. panels, .. collaborativePanels]));
        }
        return new ComparisonResult(s, models.Select(m => m.Name).ToList(), rows.Select(r => new EvaluationReport(r)).ToList(), images);
    }

    private static CropPanel Panel(string label, Image output, CropRegion region, Image hrCrop)
    {
        var crop = region.Apply(output);
        return new CropPanel(label, crop, Metrics.Psnr(crop, hrCrop, 0, yOnly: true));
    }

    /// <summary>The whole image shrunk (bicubic) so its longer side is at most <paramref name="size"/>.</summary>
    private static Image Overview(Image hr, int size)
    {
        int longer = Math.Max(hr.Width, hr.Height);
        if (longer <= size) return hr;
        int w = Math.Max(1, (int)Math.Round((double)hr.Width * size / longer)), h = Math.Max(1, (int)Math.Round((double)hr.Height * size / longer));
        return Resize.Bicubic(hr, w, h).Quantize8();
    }
}
