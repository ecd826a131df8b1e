using System.Text;
using MLNet.Rescale.IO;

namespace MLNet.Rescale.Reporting;

/// <summary>One line of a chart; <paramref name="Dashed"/> for baselines (bicubic), <paramref name="Markers"/> to mark each point.</summary>
public sealed record Series(string Name, IReadOnlyList<(double X, double Y)> Points, string Color, bool Dashed = false, bool Markers = false);

/// <summary>A line chart: title, axis labels (with units) and its series, each named in the legend.</summary>
public sealed record Chart(string Title, string XLabel, string YLabel, IReadOnlyList<Series> Series);

/// <summary>The image formats charts are written in.</summary>
public enum ChartFormat
{
    /// <summary>Scalable vector graphics (an XML document).</summary>
    Svg,
    /// <summary>A PNG bitmap.</summary>
    Png,
}

/// <summary>
/// Draws charts with ScottPlot, stacked one below the other (training curves, quality sweeps, benchmark runs, the HTML
/// report's charts). Nothing else in the library refers to ScottPlot, so it is loaded only by a process that draws.
/// </summary>
public static class ChartRenderer
{
    /// <summary>Default width of a chart in pixels.</summary>
    public const int Width = 720;
    /// <summary>Default height of each chart in pixels.</summary>
    public const int ChartHeight = 320;

    // One chart at a time: ScottPlot's font cache and Skia's are not documented as thread-safe.
    private static readonly Lock Drawing = new();

    /// <summary>The charts, stacked, as an image of <paramref name="width"/> × (<paramref name="chartHeight"/> × count) pixels.</summary>
    public static byte[] Render(IReadOnlyList<Chart> charts, ChartFormat format, int width = Width, int chartHeight = ChartHeight)
    {
        ArgumentNullException.ThrowIfNull(charts);
        lock (Drawing) return ScottPlotCharts.Render(charts, format, width, chartHeight);
    }

    /// <summary>The charts as an SVG document (without an XML declaration, so it can be inlined in HTML).</summary>
    public static string Svg(IReadOnlyList<Chart> charts, int width = Width, int chartHeight = ChartHeight)
    {
        string svg = Encoding.UTF8.GetString(Render(charts, ChartFormat.Svg, width, chartHeight));
        int start = svg.IndexOf("<svg", StringComparison.Ordinal);
        return start > 0 ? svg[start..] : svg;
    }

    /// <summary>Writes the charts atomically to <paramref name="path"/>: PNG for a <c>.png</c> file, SVG otherwise.</summary>
    public static void Write(string path, IReadOnlyList<Chart> charts)
    {
        bool png = path.EndsWith(".png", StringComparison.OrdinalIgnoreCase);
        AtomicFile.WriteAllBytes(path, png ? Render(charts, ChartFormat.Png) : Encoding.UTF8.GetBytes(Svg(charts)));
    }
}
