using MLNet.Rescale.Evaluation;

namespace MLNet.Rescale.Reporting;

/// <summary>Charts of evaluation results.</summary>
public static class SweepCharts
{
    /// <summary>The chart of mean Y-PSNR against quality, one line per method (bicubic dashed, the baseline).</summary>
    public static Chart ToChart(this SweepResult sweep, string title)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        string[] colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#7f7f7f"];
        var series = sweep.Series.Select((s, i) => new Series(s.Method, sweep.Qualities.Select((q, k) => ((double)q, s.PsnrY[k])).ToList(),
            s.Method == CompressionSweep.Bicubic ? "#7f7f7f" : colors[i % colors.Length], Dashed: s.Method == CompressionSweep.Bicubic, Markers: true)).ToList();
        return new Chart(title, $"{sweep.CodecName.ToUpperInvariant()} quality of the LR (1–100)", "mean Y-PSNR (dB)", series);
    }

    /// <summary>
    /// Draws a training run's curve from its log into <c>curve.svg</c> in its run folder (the loss terms, and the
    /// validation PSNR when logged).
    /// </summary>
    public static void WriteCurve(this Training.Trainer trainer)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        var keys = trainer.Objective.Terms.Where(t => t.Plotted).Select(t => t.Key).ToList();
        var rows = trainer.Log.Rows().Select(r => new TrainingCurve.CurveRow(r["iteration"]!.GetValue<long>(), r["loss"]?.GetValue<double>() ?? double.NaN,
            keys.Where(k => r[k] is not null).ToDictionary(k => k, k => r[k]!.GetValue<double>()), r["val_psnr_y"]?.GetValue<double>())).ToList();
        if (rows.Count == 0) return;
        var logged = trainer.Log.Rows();
        var extra = trainer.Options.ExtraValidationFolders.Select(folder =>
        {
            string key = Training.Trainer.ExtraValidationKey(folder);
            IReadOnlyList<(double X, double Y)> points = logged.Where(r => r[key] is not null)
                .Select(r => ((double)r["iteration"]!.GetValue<long>(), r[key]!.GetValue<double>())).ToList();
            return (Name: key["val_psnr_y_".Length..], Points: points);
        });
        ChartRenderer.Write(Path.Combine(trainer.RunFolder, "curve.svg"), TrainingCurve.Charts(rows, keys, extra));
    }
}
