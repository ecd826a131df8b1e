using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Core;
using MLNet.Rescale.ML.Data;

namespace MLNet.Rescale.ML.Rescaling;

/// <summary>Scores of one row: Y-PSNR (dB) and SSIM on the BT.601 luma, a border of <see cref="RescaleMetrics.CropBorder"/> pixels cropped.</summary>
public sealed record ImageMetrics(long Row, int Width, int Height, double PsnrY, double SsimY);

/// <summary>What <see cref="RescalingCatalog.Evaluate"/> measures: per-image scores and their means, as the papers report them.</summary>
public sealed record RescaleMetrics(IReadOnlyList<ImageMetrics> PerImage, int CropBorder)
{
    /// <summary>Mean Y-PSNR in dB.</summary>
    public double PsnrY => PerImage.Average(i => i.PsnrY);
    /// <summary>Mean Y-SSIM.</summary>
    public double SsimY => PerImage.Average(i => i.SsimY);

    /// <summary>
    /// Scores the <paramref name="scoreColumnName"/> images against the <paramref name="labelColumnName"/> images with
    /// <see cref="Metrics"/> (8-bit, Y only, border cropped). Where an upscaled image is larger than its label (a size not
    /// divisible by the scale was padded), the top-left region they share is scored.
    /// </summary>
    internal static RescaleMetrics Compute(IDataView data, string labelColumnName, string scoreColumnName, int? cropBorder)
    {
        var label = SchemaCheck.Require(data.Schema, labelColumnName, ImageDataViewType.Instance, "Evaluate");
        var score = SchemaCheck.Require(data.Schema, scoreColumnName, ImageDataViewType.Instance, "Evaluate");
        int border = cropBorder ?? (score.Annotations.TryGetValue(AnnotationNames.Scale, out var s) && s is int scale ? scale
            : throw new ArgumentException($"Evaluate: column '{scoreColumnName}' has no {AnnotationNames.Scale} annotation; pass the crop border"));
        ArgumentOutOfRangeException.ThrowIfNegative(border, nameof(cropBorder));
        var rows = new List<ImageMetrics>();
        using var cursor = data.GetRowCursor([label, score]);
        var getLabel = cursor.GetGetter<Image>(label);
        var getScore = cursor.GetGetter<Image>(score);
        while (cursor.MoveNext())
        {
            Image hr = null!, sr = null!;
            getLabel(ref hr);
            getScore(ref sr);
            hr = hr.SplitAlpha(out _).ToRgb();
            sr = sr.SplitAlpha(out _).ToRgb();
            int w = Math.Min(hr.Width, sr.Width), h = Math.Min(hr.Height, sr.Height);
            if (hr.Width - w >= Math.Max(border, 1) || sr.Width - w >= Math.Max(border, 1) || hr.Height - h >= Math.Max(border, 1) || sr.Height - h >= Math.Max(border, 1))
                throw new InvalidOperationException($"Evaluate: row {cursor.Position}: '{scoreColumnName}' is {sr.Width}×{sr.Height} but '{labelColumnName}' is {hr.Width}×{hr.Height}");
            if (w != hr.Width || h != hr.Height) hr = hr.Crop(0, 0, w, h);
            if (w != sr.Width || h != sr.Height) sr = sr.Crop(0, 0, w, h);
            rows.Add(new ImageMetrics(cursor.Position, w, h, Metrics.Psnr(sr, hr, border, yOnly: true), Metrics.Ssim(sr, hr, border, yOnly: true)));
        }
        if (rows.Count == 0) throw new InvalidOperationException("Evaluate: the data view has no rows");
        return new RescaleMetrics(rows, border);
    }
}
