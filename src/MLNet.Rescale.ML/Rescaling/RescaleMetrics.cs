using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Transforms;

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
    /// <see cref="Metrics"/> (8-bit, Y only, border cropped), by the protocol of <c>rescale eval</c> (see
    /// <see cref="MLNet.Rescale.Evaluation.Evaluator"/>): when the score column carries a <see cref="AnnotationNames.Scale"/>
    /// annotation, each label is modcropped to that scale (top-left, each side cut to a multiple of it) and the score
    /// is cropped to the same size — an HR image whose size is not a multiple of the scale was padded by the
    /// downscaler, so its upscale is up to one scale step larger. A pipeline that modcrops before downscaling
    /// (<c>ModCropImages</c>) therefore scores exactly what <c>rescale eval</c> scores. Without the annotation the
    /// top-left region both share is scored.
    /// </summary>
    internal static RescaleMetrics Compute(IDataView data, string labelColumnName, string scoreColumnName, int? cropBorder,
        IProgress<ImageMetrics>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var label = SchemaChecks.Require(data.Schema, labelColumnName, text: false, "Evaluate");
        var score = SchemaChecks.Require(data.Schema, scoreColumnName, text: false, "Evaluate");
        int? scale = RescaleAnnotations.ScaleOf(score);
        int border = cropBorder ?? scale
            ?? throw new ArgumentException($"Evaluate: column '{scoreColumnName}' has no {AnnotationNames.Scale} annotation; pass the crop border");
        ArgumentOutOfRangeException.ThrowIfNegative(border, nameof(cropBorder));
        var rows = new List<ImageMetrics>();
        using var cursor = data.GetRowCursor([label, score]);
        var getLabel = cursor.GetGetter<MLImage>(label);
        var getScore = cursor.GetGetter<MLImage>(score);
        MLImage? labelImage = null, scoreImage = null;
        while (cursor.MoveNext())
        {
            getLabel(ref labelImage!);
            getScore(ref scoreImage!);
            if (labelImage is null || scoreImage is null)
                throw new InvalidOperationException($"Evaluate: row {cursor.Position}: '{(labelImage is null ? labelColumnName : scoreColumnName)}' holds no image");
            var hr = labelImage.ToImage().SplitAlpha(out _).ToRgb();
            var sr = scoreImage.ToImage().SplitAlpha(out _).ToRgb();
            string Mismatch() =>
                $"Evaluate: row {cursor.Position}: '{scoreColumnName}' is {sr.Width}×{sr.Height} but '{labelColumnName}' is {hr.Width}×{hr.Height}";
            int w, h;
            if (scale is int m)
            {
                if (hr.Width < m || hr.Height < m)
                    throw new InvalidOperationException($"Evaluate: row {cursor.Position}: '{labelColumnName}' is {hr.Width}×{hr.Height}, smaller than the scale {m}");
                (w, h) = (hr.Width - hr.Width % m, hr.Height - hr.Height % m);
                // The upscale of a padded LR is at most one scale step larger than the modcropped label, never smaller.
                if (sr.Width < w || sr.Height < h || sr.Width - w > m || sr.Height - h > m) throw new InvalidOperationException(Mismatch());
            }
            else
            {
                (w, h) = (Math.Min(hr.Width, sr.Width), Math.Min(hr.Height, sr.Height));
                int tolerance = Math.Max(border, 1);
                if (hr.Width - w >= tolerance || sr.Width - w >= tolerance || hr.Height - h >= tolerance || sr.Height - h >= tolerance)
                    throw new InvalidOperationException(Mismatch());
            }
            if (w != hr.Width || h != hr.Height) hr = hr.Crop(0, 0, w, h);
            if (w != sr.Width || h != sr.Height) sr = sr.Crop(0, 0, w, h);
            var row = new ImageMetrics(cursor.Position, w, h, Metrics.Psnr(sr, hr, border, yOnly: true), Metrics.Ssim(sr, hr, border, yOnly: true));
            rows.Add(row);
            progress?.Report(row);
        }
        if (rows.Count == 0) throw new InvalidOperationException("Evaluate: the data view has no rows");
        return new RescaleMetrics(rows, border);
    }
}
