using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
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
/// report's charts). ScottPlot runs in its own assembly load context (from the <c>charts/</c> folder beside this
/// assembly) because it needs SkiaSharp 3 while ML.NET's image support needs SkiaSharp 2.88 in the same process.
/// </summary>
public static class ChartRenderer
{
    /// <summary>Default width of a chart in pixels.</summary>
    public const int Width = 720;
    /// <summary>Default height of each chart in pixels.</summary>
    public const int ChartHeight = 320;

    private static readonly Lazy<Func<string, string, int, int, byte[]>> Renderer = new(LoadRenderer);

    /// <summary>The charts, stacked, as an image of <paramref name="width"/> × (<paramref name="chartHeight"/> × count) pixels.</summary>
    public static byte[] Render(IReadOnlyList<Chart> charts, ChartFormat format, int width = Width, int chartHeight = ChartHeight)
    {
        ArgumentNullException.ThrowIfNull(charts);
        var json = new JsonArray(charts.Select(c => (JsonNode)new JsonObject
        {
            ["title"] = c.Title, ["xLabel"] = c.XLabel, ["yLabel"] = c.YLabel,
            ["series"] = new JsonArray(c.Series.Select(s =>
            {
                var points = s.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
                return (JsonNode)new JsonObject
                {
                    ["name"] = s.Name, ["color"] = s.Color, ["dashed"] = s.Dashed, ["markers"] = s.Markers,
                    ["x"] = new JsonArray(points.Select(p => (JsonNode)p.X).ToArray()),
                    ["y"] = new JsonArray(points.Select(p => (JsonNode)p.Y).ToArray()),
                };
            }).ToArray()),
        }).ToArray());
        return Renderer.Value(json.ToJsonString(), format == ChartFormat.Svg ? "svg" : "png", width, chartHeight);
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

    private static Func<string, string, int, int, byte[]> LoadRenderer()
    {
        string folder = Path.Combine(Path.GetDirectoryName(typeof(ChartRenderer).Assembly.Location) ?? AppContext.BaseDirectory, "charts");
        string entry = Path.Combine(folder, "MLNet.Rescale.Charts.dll");
        if (!File.Exists(entry))
            throw new InvalidOperationException($"{entry}: the chart renderer is missing; it is published beside MLNet.Rescale.dll by its build (rebuild the project)");
        var context = new ChartsLoadContext(folder);
        var method = context.LoadFromAssemblyPath(entry).GetType("MLNet.Rescale.Charts.ScottPlotCharts")?.GetMethod("Render")
            ?? throw new InvalidOperationException($"{entry}: no MLNet.Rescale.Charts.ScottPlotCharts.Render");
        var render = method.CreateDelegate<Func<string, string, int, int, byte[]>>();
        // One chart at a time: ScottPlot's font cache and Skia's are not documented as thread-safe.
        var gate = new object();
        return (json, format, width, height) =>
        {
            lock (gate) return render(json, format, width, height);
        };
    }

    /// <summary>ScottPlot, SkiaSharp 3 and their natives from <c>charts/</c>; everything else from the application.</summary>
    private sealed class ChartsLoadContext(string folder) : AssemblyLoadContext("MLNet.Rescale.Charts")
    {
        private static readonly string NativeFolder = (OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux")
            + "-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();

        protected override Assembly? Load(AssemblyName name)
        {
            string path = Path.Combine(folder, name.Name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }

        protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
        {
            string file = OperatingSystem.IsWindows() ? unmanagedDllName + ".dll"
                : (unmanagedDllName.StartsWith("lib", StringComparison.Ordinal) ? unmanagedDllName : "lib" + unmanagedDllName) + (OperatingSystem.IsMacOS() ? ".dylib" : ".so");
            // Published for the building machine's runtime, the natives sit in the folder itself; portable ones under runtimes/.
            foreach (var path in new[] { Path.Combine(folder, file), Path.Combine(folder, "runtimes", NativeFolder, "native", file) })
                if (File.Exists(path)) return LoadUnmanagedDllFromPath(path);
            return IntPtr.Zero;
        }
    }
}
