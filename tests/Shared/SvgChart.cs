using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace MLNet.Rescale.Tests.Shared;

/// <summary>Reads what a chart drawn by ScottPlot (through Skia's SVG canvas) shows: its texts and its coloured lines.</summary>
public static partial class SvgChart
{
    /// <summary>Ink that is not a series: axes, ticks, frames and grid lines are drawn in near-black.</summary>
    private static readonly HashSet<string> Ink = ["#010101", "#000000", "#FFFFFF"];

    private static XDocument Parse(string svg) => XDocument.Parse(svg[svg.IndexOf("<svg", StringComparison.Ordinal)..]);

    /// <summary>Every text drawn (titles, axis labels, tick labels, legend entries), trimmed.</summary>
    public static List<string> Texts(string svg) =>
        Parse(svg).Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim()).Where(t => t.Length > 0).ToList();

    /// <summary>
    /// The colours of the series drawn (distinct stroke and fill colours other than the chart's ink; Skia writes a dashed
    /// line as filled dashes), upper-case hex.
    /// </summary>
    public static HashSet<string> SeriesColors(string svg) =>
        Parse(svg).Descendants().SelectMany(e => new[] { e.Attribute("stroke")?.Value, e.Attribute("fill")?.Value }).OfType<string>()
            .Select(c => c.ToUpperInvariant()).Where(c => c.StartsWith('#') && !Ink.Contains(c)).ToHashSet();

    /// <summary>The number of vertices of the longest line stroked in <paramref name="color"/> (0 if none).</summary>
    public static int LinePoints(string svg, string color) =>
        Parse(svg).Descendants().Where(e => e.Name.LocalName == "path" && string.Equals(e.Attribute("stroke")?.Value, color, StringComparison.OrdinalIgnoreCase))
            .Select(e => Vertices().Matches(e.Attribute("d")?.Value ?? "").Count).DefaultIfEmpty(0).Max();

    [GeneratedRegex("[ML]\\s*-?[0-9.]+")]
    private static partial Regex Vertices();
}
