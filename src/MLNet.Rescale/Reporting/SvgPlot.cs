using System.Globalization;
using System.Text;
using MLNet.Rescale.Tensors.IO;

namespace MLNet.Rescale.Reporting;

/// <summary>One line of a chart.</summary>
public sealed record Series(string Name, IReadOnlyList<(double X, double Y)> Points, string Color);

/// <summary>A minimal self-contained SVG line chart (no dependencies), for training curves and quality sweeps.</summary>
public static class SvgPlot
{
    private const int W = 640, H = 300, L = 64, R = 150, T = 30, B = 40;

    /// <summary>Renders stacked charts (each a title, an x label, a y label and its series) into one SVG document.</summary>
    public static string Render(IReadOnlyList<(string Title, string XLabel, string YLabel, IReadOnlyList<Series> Series)> charts)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H * charts.Count}\" font-family=\"sans-serif\" font-size=\"11\">");
        sb.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        for (int i = 0; i < charts.Count; i++) Chart(sb, charts[i], i * H);
        return sb.Append("</svg>").ToString();
    }

    /// <summary>Writes the charts atomically to <paramref name="path"/>.</summary>
    public static void Write(string path, IReadOnlyList<(string Title, string XLabel, string YLabel, IReadOnlyList<Series> Series)> charts) =>
        AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(Render(charts)));

    private static void Chart(StringBuilder sb, (string Title, string XLabel, string YLabel, IReadOnlyList<Series> Series) c, int top)
    {
        var pts = c.Series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.Y)).ToList();
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L}\" y=\"{top + 18}\" font-size=\"13\" font-weight=\"bold\">{Escape(c.Title)}</text>");
        if (pts.Count == 0) return;
        double x0 = pts.Min(p => p.X), x1 = pts.Max(p => p.X), y0 = pts.Min(p => p.Y), y1 = pts.Max(p => p.Y);
        if (x1 == x0) x1 = x0 + 1;
        if (y1 == y0) { y1 += 0.5; y0 -= 0.5; }
        double pw = W - L - R, ph = H - T - B;
        double Px(double x) => L + (x - x0) / (x1 - x0) * pw;
        double Py(double y) => top + T + (1 - (y - y0) / (y1 - y0)) * ph;
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{L}\" y=\"{top + T}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#888\"/>");
        for (int k = 0; k <= 4; k++)
        {
            double yv = y0 + (y1 - y0) * k / 4, xv = x0 + (x1 - x0) * k / 4;
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{L}\" x2=\"{L + pw}\" y1=\"{F(Py(yv))}\" y2=\"{F(Py(yv))}\" stroke=\"#eee\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L - 4}\" y=\"{F(Py(yv) + 4)}\" text-anchor=\"end\">{yv:0.###}</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Px(xv))}\" y=\"{top + H - B + 14}\" text-anchor=\"middle\">{xv:0.##}</text>");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L + pw / 2}\" y=\"{top + H - 6}\" text-anchor=\"middle\">{Escape(c.XLabel)}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{top + T + ph / 2}\" transform=\"rotate(-90 14 {top + T + ph / 2})\" text-anchor=\"middle\">{Escape(c.YLabel)}</text>");
        int row = 0;
        foreach (var s in c.Series)
        {
            var line = string.Join(" ", s.Points.Where(p => double.IsFinite(p.Y)).Select(p => $"{F(Px(p.X))},{F(Py(p.Y))}"));
            sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"1.5\" points=\"{line}\"/>");
            if (s.Points.Count == 1)
                sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(Px(s.Points[0].X))}\" cy=\"{F(Py(s.Points[0].Y))}\" r=\"3\" fill=\"{s.Color}\"/>");
            double ly = top + T + 12 + row++ * 16;
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{L + pw + 10}\" x2=\"{L + pw + 28}\" y1=\"{ly - 4}\" y2=\"{ly - 4}\" stroke=\"{s.Color}\" stroke-width=\"2\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L + pw + 32}\" y=\"{ly}\">{Escape(s.Name)}</text>");
        }
    }

    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
