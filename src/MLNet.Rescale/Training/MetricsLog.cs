using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLNet.Rescale.Reporting;

namespace MLNet.Rescale.Training;

/// <summary>The run's metrics as JSON lines (one object per logged iteration), and the curve drawn from them.</summary>
internal sealed class MetricsLog(string path)
{
    public void Append(long iteration, double seconds, Trainer.StepTerms t, double lr, double? valPsnr)
    {
        var o = new JsonObject
        {
            ["iteration"] = iteration, ["seconds"] = Math.Round(seconds, 2), ["loss"] = t.Total, ["fit"] = t.Fit,
            ["latent"] = t.Latent, ["reconstruction"] = t.Reconstruction, ["lr"] = lr,
        };
        if (valPsnr is { } v) o["val_psnr_y"] = v;
        File.AppendAllText(path, o.ToJsonString() + "\n");
    }

    /// <summary>Drops lines logged after the checkpoint a resumed run starts from, so the log has no duplicates.</summary>
    public void TruncateAfter(long iteration)
    {
        if (!File.Exists(path)) return;
        var keep = Rows().Where(r => r["iteration"]!.GetValue<long>() <= iteration).Select(r => r.ToJsonString() + "\n");
        File.WriteAllText(path, string.Concat(keep));
    }

    private List<JsonNode> Rows() => File.Exists(path)
        ? File.ReadLines(path).Where(l => l.Trim().Length > 0).Select(l => JsonNode.Parse(l)!).ToList()
        : [];

    public void WritePlot(string svgPath)
    {
        var rows = Rows();
        if (rows.Count == 0) return;
        IReadOnlyList<(double, double)> Points(string key) => rows.Where(r => r[key] is not null)
            .Select(r => ((double)r["iteration"]!.GetValue<long>(), r[key]!.GetValue<double>())).ToList();
        var charts = new List<(string, string, string, IReadOnlyList<Series>)>
        {
            ("Training loss (log10)", "iteration", "log10 loss",
            [
                new Series("total", Points("loss").Select(p => (p.Item1, Math.Log10(p.Item2))).ToList(), "#1f77b4"),
                new Series("reconstruction", Points("reconstruction").Select(p => (p.Item1, Math.Log10(p.Item2))).ToList(), "#ff7f0e"),
                new Series("fit", Points("fit").Select(p => (p.Item1, Math.Log10(p.Item2))).ToList(), "#2ca02c"),
            ]),
        };
        var val = Points("val_psnr_y");
        if (val.Count > 0) charts.Add(("Validation round trip", "iteration", "Y-PSNR (dB)", [new Series("val Y-PSNR", val, "#d62728")]));
        SvgPlot.Write(svgPath, charts);
    }
}
