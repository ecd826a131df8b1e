using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLNet.Rescale.Reporting;

namespace MLNet.Rescale.Training;

/// <summary>The run's metrics as JSON lines (one object per logged iteration), and the curve drawn from them.</summary>
internal sealed class MetricsLog(string path)
{
    private static readonly string[] Palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

    public void Append(long iteration, double seconds, Trainer.StepTerms t, double lr, double? valPsnr)
    {
        var o = new JsonObject
        {
            ["iteration"] = iteration, ["seconds"] = Math.Round(seconds, 2), ["loss"] = t.Total,
        };
        foreach (var (key, value) in t.Terms) o[key] = value;
        o["lr"] = lr;
        if (valPsnr is { } v) o["val_psnr_y"] = v;
        File.AppendAllText(path, o.ToJsonString() + "\n");
        LoggedSeconds = seconds;
    }

    /// <summary>Training seconds of the last row appended or kept by <see cref="TruncateAfter"/>: where the next run's clock continues.</summary>
    public double LoggedSeconds { get; private set; }

    /// <summary>Drops lines logged after the checkpoint a resumed run starts from, so the log has no duplicates.</summary>
    public void TruncateAfter(long iteration)
    {
        if (!File.Exists(path)) return;
        var kept = Rows().Where(r => r["iteration"]!.GetValue<long>() <= iteration).ToList();
        LoggedSeconds = kept.Count > 0 && kept[^1]["seconds"] is { } s ? s.GetValue<double>() : 0;
        Tensors.IO.AtomicFile.WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(string.Concat(kept.Select(r => r.ToJsonString() + "\n"))));
    }

    // A run killed while appending leaves a torn last line; it is skipped (and dropped by the next TruncateAfter).
    private List<JsonNode> Rows() => File.Exists(path)
        ? File.ReadLines(path).Where(l => l.Trim().Length > 0).Select(Parse).OfType<JsonNode>()
            .Where(r => r["iteration"] is JsonValue).ToList()
        : [];

    private static JsonNode? Parse(string line)
    {
        try { return JsonNode.Parse(line); }
        catch (JsonException) { return null; }
    }

    /// <summary>Draws the total loss and the <paramref name="terms"/> (log10), and the validation PSNR when logged.</summary>
    public void WritePlot(string svgPath, IEnumerable<string> terms)
    {
        var rows = Rows();
        if (rows.Count == 0) return;
        IReadOnlyList<(double, double)> Points(string key) => rows.Where(r => r[key] is not null)
            .Select(r => ((double)r["iteration"]!.GetValue<long>(), r[key]!.GetValue<double>())).ToList();
        // A term can be exactly 0 (a perfect fit, a codec that changed nothing); log10 has no point for it.
        IReadOnlyList<(double, double)> Log10(string key) => Points(key).Where(p => p.Item2 > 0).Select(p => (p.Item1, Math.Log10(p.Item2))).ToList();
        var losses = new List<Series> { new("total", Log10("loss"), Palette[0]) };
        losses.AddRange(terms.Select((key, i) => new Series(key, Log10(key), Palette[1 + i % (Palette.Length - 1)])));
        var charts = new List<(string, string, string, IReadOnlyList<Series>)> { ("Training loss (log10)", "iteration", "log10 loss", losses) };
        var val = Points("val_psnr_y");
        if (val.Count > 0) charts.Add(("Validation round trip", "iteration", "Y-PSNR (dB)", [new Series("val Y-PSNR", val, "#d62728")]));
        SvgPlot.Write(svgPath, charts);
    }
}
