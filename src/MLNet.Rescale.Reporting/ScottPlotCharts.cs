using ScottPlot;
using SkiaSharp;

namespace MLNet.Rescale.Reporting;

/// <summary>The ScottPlot drawing behind <see cref="ChartRenderer"/>: stacked line charts on one Skia canvas.</summary>
internal static class ScottPlotCharts
{
    public static byte[] Render(IReadOnlyList<Chart> charts, ChartFormat format, int width, int chartHeight)
    {
        int height = chartHeight * Math.Max(1, charts.Count);
        var plots = charts.Select(Plot).ToList();
        try
        {
            using var stream = new MemoryStream();
            if (format == ChartFormat.Svg)
            {
                using (var canvas = SKSvgCanvas.Create(new SKRect(0, 0, width, height), stream)) Draw(canvas, plots, width, chartHeight);
            }
            else
            {
                using var surface = SKSurface.Create(new SKImageInfo(width, height)) ?? throw new InvalidOperationException($"cannot make a {width}×{height} drawing surface");
                Draw(surface.Canvas, plots, width, chartHeight);
                using var image = surface.Snapshot();
                using var data = image.Encode(SKEncodedImageFormat.Png, 100);
                data.SaveTo(stream);
            }
            return stream.ToArray();
        }
        finally
        {
            foreach (var p in plots) p.Dispose();
        }
    }

    private static void Draw(SKCanvas canvas, List<Plot> plots, int width, int chartHeight)
    {
        canvas.Clear(SKColors.White);
        for (int i = 0; i < plots.Count; i++)
            plots[i].Render(canvas, new PixelRect(0, width, i * chartHeight, (i + 1) * chartHeight));
    }

    private static Plot Plot(Chart chart)
    {
        var plot = new Plot();
        plot.Title(chart.Title);
        plot.XLabel(chart.XLabel);
        plot.YLabel(chart.YLabel);
        bool any = false;
        foreach (var s in chart.Series)
        {
            // Points that are not finite (a diverged loss, a missing score) are left out rather than drawn.
            var points = s.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToArray();
            if (points.Length == 0) continue;
            any = true;
            var scatter = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray());
            scatter.LegendText = s.Name;
            scatter.Color = Color.FromHex(s.Color);
            scatter.LineWidth = 1.5f;
            scatter.MarkerSize = s.Markers || points.Length == 1 ? 5 : 0;
            if (s.Dashed) scatter.LinePattern = LinePattern.Dashed;
        }
        if (any) plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }
}
