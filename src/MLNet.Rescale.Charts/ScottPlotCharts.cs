using System.Text.Json;
using ScottPlot;
using SkiaSharp;

namespace MLNet.Rescale.Charts;

/// <summary>
/// Draws stacked line charts with ScottPlot. The entry point takes the charts as JSON and returns the encoded image, so
/// nothing but strings and bytes crosses from the default load context into the isolated one this assembly lives in.
/// </summary>
public static class ScottPlotCharts
{
    private sealed record SeriesSpec(string Name, double[] X, double[] Y, string Color, bool Dashed, bool Markers);
    private sealed record ChartSpec(string Title, string XLabel, string YLabel, SeriesSpec[] Series);

    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    /// <summary>
    /// Renders the charts of <paramref name="chartsJson"/> (an array of {title, xLabel, yLabel, series: [{name, x, y,
    /// color, dashed, markers}]}) one below the other, each <paramref name="width"/> × <paramref name="chartHeight"/>
    /// pixels, as "svg" or "png".
    /// </summary>
    public static byte[] Render(string chartsJson, string format, int width, int chartHeight)
    {
        var charts = JsonSerializer.Deserialize<ChartSpec[]>(chartsJson, Json) ?? [];
        int height = chartHeight * Math.Max(1, charts.Length);
        var plots = charts.Select(Plot).ToList();
        try
        {
            using var stream = new MemoryStream();
            if (format == "svg")
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

    private static Plot Plot(ChartSpec chart)
    {
        var plot = new Plot();
        plot.Title(chart.Title);
        plot.XLabel(chart.XLabel);
        plot.YLabel(chart.YLabel);
        foreach (var s in chart.Series)
        {
            if (s.X.Length == 0) continue;
            var scatter = plot.Add.Scatter(s.X, s.Y);
            scatter.LegendText = s.Name;
            scatter.Color = Color.FromHex(s.Color);
            scatter.LineWidth = 1.5f;
            scatter.MarkerSize = s.Markers || s.X.Length == 1 ? 5 : 0;
            if (s.Dashed) scatter.LinePattern = LinePattern.Dashed;
        }
        if (chart.Series.Any(s => s.X.Length > 0)) plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }
}
