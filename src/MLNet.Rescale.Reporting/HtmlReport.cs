using System.Globalization;
using System.Text;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.IO;

namespace MLNet.Rescale.Reporting;

/// <summary>
/// A self-contained HTML page of a <see cref="ComparisonResult"/>: the settings, a table of mean and per-image
/// Y-PSNR/SSIM (best per row in bold), an optional PSNR-vs-quality plot (inline SVG of a <see cref="SweepResult"/>) with
/// its table, and for each image an overview marking the region of interest next to zoomed crops of every method.
/// Images are PNG data URIs; a Content-Security-Policy forbids every external resource and every script, so the page
/// shows the same offline, from an e-mail attachment or a CI artifact.
/// </summary>
public static class HtmlReport
{
    /// <summary>The page's Content-Security-Policy: nothing from outside, no scripts, images only as data URIs.</summary>
    public const string ContentSecurityPolicy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

    private const string Style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
        h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:15px;margin:20px 0 6px}
        table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
        th:first-child,td:first-child{text-align:left}thead th{background:#f3f3f3}td.best{font-weight:bold}
        ul.settings{color:#444}.overview{position:relative;display:inline-block;margin:0 16px 8px 0;vertical-align:top}
        .overview img{display:block}.roi{position:absolute;border:2px solid #e00;box-sizing:border-box}
        .crops{display:flex;flex-wrap:wrap;align-items:flex-start}
        """;

    /// <summary>
    /// The page. <paramref name="settings"/> are lines describing the run (data, codec, HCD settings…); with a
    /// <paramref name="sweep"/> its plot (titled <paramref name="sweepTitle"/>) and table are included.
    /// </summary>
    public static string Render(string title, ComparisonResult result, IReadOnlyList<string> settings, SweepResult? sweep = null, string? sweepTitle = null)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        sb.Append("<meta http-equiv=\"Content-Security-Policy\" content=\"").Append(ContentSecurityPolicy).Append("\">");
        sb.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        sb.Append("<title>").Append(E(title)).Append("</title><style>").Append(Style).Append("</style></head>\n<body>\n");
        sb.Append("<h1>").Append(E(title)).Append("</h1>\n<ul class=\"settings\">");
        foreach (var line in settings) sb.Append("<li>").Append(E(line)).Append("</li>");
        sb.Append("</ul>\n");
        Scores(sb, result);
        if (sweep is not null) Sweep(sb, sweep, sweepTitle ?? "Y-PSNR against the quality of the LR's codec");
        Crops(sb, result);
        return sb.Append("</body></html>\n").ToString();
    }

    /// <summary>Writes the page atomically (temporary file, then rename) to <paramref name="path"/>.</summary>
    public static void Write(string path, string html) => AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(html));

    /// <summary>
    /// The columns of the score table in order, each with the report its scores come from: bicubic (the same in every
    /// report), every model, every model with HCD (when scored).
    /// </summary>
    private static List<(string Label, EvaluationReport Report, Func<ImageScore, double> Psnr, Func<ImageScore, double> Ssim)> Methods(ComparisonResult r)
    {
        var methods = new List<(string, EvaluationReport, Func<ImageScore, double>, Func<ImageScore, double>)>
        {
            (CompressionSweep.Bicubic, r.Reports[0], i => i.BicubicPsnrY, i => i.BicubicSsimY),
        };
        for (int m = 0; m < r.Models.Count; m++) methods.Add((r.Models[m], r.Reports[m], i => i.PsnrY, i => i.SsimY));
        for (int m = 0; m < r.Models.Count; m++)
            if (r.Reports[m].CollaborativePsnrY.HasValue)
                methods.Add((VisualComparison.CollaborativeLabel(r.Models[m]), r.Reports[m], i => i.CollaborativePsnrY!.Value, i => i.CollaborativeSsimY!.Value));
        return methods;
    }

    private static void Scores(StringBuilder sb, ComparisonResult r)
    {
        var methods = Methods(r);
        sb.Append(CultureInfo.InvariantCulture, $"<h2>Scores</h2>\n<p>Round trip ×{r.Scale}, Y channel (BT.601), border of {r.Scale} pixels cropped; Y-PSNR in dB / SSIM.</p>\n");
        sb.Append("<table><thead><tr><th>image</th><th>size</th>");
        foreach (var m in methods) sb.Append("<th>").Append(E(m.Label)).Append("</th>");
        sb.Append("</tr></thead><tbody>\n");
        int n = r.Reports[0].Images.Count;
        for (int i = 0; i <= n; i++)
        {
            bool mean = i == n;
            var scores = methods.Select(m => mean
                ? (m.Report.Images.Average(m.Psnr), m.Report.Images.Average(m.Ssim))
                : (m.Psnr(m.Report.Images[i]), m.Ssim(m.Report.Images[i]))).ToList();
            double best = scores.Max(s => s.Item1);
            var row = r.Reports[0].Images[Math.Min(i, n - 1)];
            sb.Append(mean ? "<tr><td><b>mean</b></td><td></td>" : $"<tr><td>{E(row.Name)}</td><td>{row.Width}×{row.Height}</td>");
            foreach (var (psnr, ssim) in scores)
                sb.Append(psnr == best ? "<td class=\"best\">" : "<td>").Append(F(psnr, "0.00")).Append(" / ").Append(F(ssim, "0.0000")).Append("</td>");
            sb.Append("</tr>\n");
        }
        sb.Append("</tbody></table>\n");
    }

    private static void Sweep(StringBuilder sb, SweepResult sweep, string title)
    {
        sb.Append("<h2>Quality sweep</h2>\n<figure class=\"plot\" style=\"margin:0\">").Append(ChartRenderer.Svg([sweep.ToChart(title)])).Append("</figure>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<table><thead><tr><th>{E(sweep.CodecName)} quality</th>");
        foreach (var s in sweep.Series) sb.Append("<th>").Append(E(s.Method)).Append("</th>");
        sb.Append("</tr></thead><tbody>\n");
        for (int k = 0; k < sweep.Qualities.Count; k++)
        {
            double best = sweep.Series.Max(s => s.PsnrY[k]);
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{sweep.Qualities[k]}</td>");
            foreach (var s in sweep.Series)
                sb.Append(s.PsnrY[k] == best ? "<td class=\"best\">" : "<td>").Append(F(s.PsnrY[k], "0.00")).Append(" / ").Append(F(s.SsimY[k], "0.0000")).Append("</td>");
            sb.Append("</tr>\n");
        }
        sb.Append("</tbody></table>\n");
    }

    private static void Crops(StringBuilder sb, ComparisonResult r)
    {
        sb.Append("<h2>Crops</h2>\n<p>The most detailed window of each image (red box), magnified with nearest neighbour; under each crop its Y-PSNR against the HR crop.</p>\n");
        foreach (var image in r.Images)
        {
            var reg = image.Region;
            double f = (double)image.Overview.Width / image.Width;
            sb.Append(CultureInfo.InvariantCulture,
                $"<section class=\"image\"><h3>{E(image.Name)} <small>({image.Width}×{image.Height}, crop {reg.Size}×{reg.Size} at ({reg.X}, {reg.Y}), ×{image.Zoom})</small></h3>\n");
            sb.Append("<div class=\"crops\"><div class=\"overview\">");
            sb.Append(CultureInfo.InvariantCulture,
                $"<img src=\"{HtmlImages.DataUri(image.Overview)}\" width=\"{image.Overview.Width}\" height=\"{image.Overview.Height}\" alt=\"{E(image.Name)}: overview\">");
            sb.Append(CultureInfo.InvariantCulture,
                $"<div class=\"roi\" style=\"left:{F(reg.X * f, "0.#")}px;top:{F(reg.Y * f, "0.#")}px;width:{F(Math.Max(4, reg.Size * f), "0.#")}px;height:{F(Math.Max(4, reg.Size * f), "0.#")}px\"></div></div>");
            foreach (var p in image.Panels)
                sb.Append(HtmlImages.Figure(p.Crop, p.Label, image.Zoom, p.CropPsnrY is { } v ? "crop Y-PSNR " + (double.IsPositiveInfinity(v) ? "∞" : F(v, "0.00") + " dB") : null));
            sb.Append("</div></section>\n");
        }
    }

    private static string E(string text) => HtmlImages.Encode(text);

    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
}
