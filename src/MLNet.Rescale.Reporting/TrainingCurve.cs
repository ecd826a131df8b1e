using MLNet.Rescale.Training;

namespace MLNet.Rescale.Reporting;

/// <summary>
/// A live training curve: give it to <see cref="Trainer.Run"/> (or an <c>InvertibleDownscaler</c>'s <c>Progress</c>) and it
/// keeps every report, on the training thread, and draws them as a run's <c>curve.svg</c> is drawn: the total loss and
/// its terms (log10) and, once the run has validated, the validation Y-PSNR. <see cref="Reported"/> fires after each
/// report, e.g. to redraw a plot in a notebook while the training runs.
/// </summary>
public sealed class TrainingCurve : IProgress<TrainingProgress>
{
    private readonly List<TrainingProgress> reports = [];
    private readonly IReadOnlyList<string>? terms;
    private readonly object gate = new();

    /// <summary>A curve drawing the loss terms named by <paramref name="terms"/> beside the total (null: every term reported).</summary>
    public TrainingCurve(IEnumerable<string>? terms = null) => this.terms = terms?.ToList();

    /// <summary>Raised after each report is recorded, on the thread that reported it.</summary>
    public event Action<TrainingProgress>? Reported;

    /// <summary>The reports received so far, in order.</summary>
    public IReadOnlyList<TrainingProgress> Reports
    {
        get
        {
            lock (gate) return reports.ToArray();
        }
    }

    /// <summary>The validation Y-PSNR of the last report that carried one; null before the first validation.</summary>
    public double? LastValidationPsnr
    {
        get
        {
            lock (gate) return reports.LastOrDefault(r => r.ValidationPsnr is not null)?.ValidationPsnr;
        }
    }

    /// <inheritdoc/>
    public void Report(TrainingProgress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        lock (gate) reports.Add(value);
        Reported?.Invoke(value);
    }

    /// <summary>The charts of the curve so far: the losses and, once the run has validated, the validation Y-PSNR.</summary>
    public IReadOnlyList<Chart> ToCharts()
    {
        var rows = Reports.Select(r => new CurveRow(r.Iteration, r.Loss, r.Terms.Terms.ToDictionary(t => t.Key, t => t.Value), r.ValidationPsnr)).ToList();
        var keys = terms ?? (rows.Count > 0 ? rows[^1].Terms.Keys.ToList() : []);
        return Charts(rows, keys);
    }

    /// <summary>The curve so far as an inline SVG document, drawn by ScottPlot (a titled empty chart before the first report).</summary>
    public string ToSvg() => ChartRenderer.Svg(ToCharts());

    /// <summary>The curve so far as a PNG image.</summary>
    public byte[] ToPng() => ChartRenderer.Render(ToCharts(), ChartFormat.Png);

    private static readonly string[] Palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

    /// <summary>One logged iteration: the total loss, the terms by key, the validation Y-PSNR if it validated.</summary>
    internal sealed record CurveRow(long Iteration, double Loss, IReadOnlyDictionary<string, double> Terms, double? ValidationPsnr);

    /// <summary>
    /// The charts of a training curve: the total and <paramref name="terms"/> on a log10 axis (a term that is exactly 0 has
    /// no point there), and the validation Y-PSNR when any row has one.
    /// </summary>
    internal static List<Chart> Charts(IReadOnlyList<CurveRow> rows, IEnumerable<string> terms,
        IEnumerable<(string Name, IReadOnlyList<(double X, double Y)> Points)>? extraValidation = null)
    {
        IReadOnlyList<(double, double)> Log10(Func<CurveRow, double?> value) => rows
            .Select(r => (X: (double)r.Iteration, Y: value(r))).Where(p => p.Y > 0).Select(p => (p.X, Math.Log10(p.Y!.Value))).ToList();
        var losses = new List<Series> { new("total", Log10(r => r.Loss), Palette[0]) };
        losses.AddRange(terms.Select((key, i) => new Series(key,
            Log10(r => r.Terms.TryGetValue(key, out var v) ? v : null), Palette[1 + i % (Palette.Length - 1)])));
        var charts = new List<Chart> { new("Training loss", "iteration", "log10 of the loss", losses) };
        var val = rows.Where(r => r.ValidationPsnr is not null).Select(r => ((double)r.Iteration, r.ValidationPsnr!.Value)).ToList();
        if (val.Count > 0) charts.Add(new("Validation round trip", "iteration", "mean Y-PSNR (dB)", [new Series("validation Y-PSNR", val, "#d62728", Markers: true)]));
        // Each further set on its own axis: Set5 and Set14 sit 3–4 dB apart, and one axis would flatten both curves.
        foreach (var (name, points) in extraValidation ?? [])
            if (points.Count > 0) charts.Add(new($"Round trip on {name}", "iteration", "mean Y-PSNR (dB)", [new Series($"{name} Y-PSNR", points, "#2ca02c", Markers: true)]));
        return charts;
    }
}
