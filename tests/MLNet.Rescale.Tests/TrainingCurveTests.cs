using MLNet.Rescale.Reporting;
using MLNet.Rescale.Tests.Shared;
using MLNet.Rescale.Training;
using Xunit;

namespace MLNet.Rescale.Tests;

public sealed class TrainingCurveTests
{
    private static TrainingProgress Report(long iteration, double fit, double rec, double? val = null) =>
        new(iteration, 10, TimeSpan.FromSeconds(iteration), TimeSpan.Zero,
            new Trainer.StepTerms(fit + rec, [new("fit", fit), new("reconstruction", rec)]), 1e-3, val);

    /// <summary>The number of points of each series of the curve's charts, by name.</summary>
    private static Dictionary<string, int> PointsPerSeries(TrainingCurve curve) =>
        curve.ToCharts().SelectMany(c => c.Series).ToDictionary(s => s.Name, s => s.Points.Count);

    [Fact]
    public void EveryReportIsKeptAndAnnouncedAndDrawn()
    {
        var curve = new TrainingCurve();
        var announced = new List<long>();
        curve.Reported += p => announced.Add(p.Iteration);
        Assert.Empty(SvgChart.SeriesColors(curve.ToSvg()));
        Assert.Null(curve.LastValidationPsnr);

        IProgress<TrainingProgress> progress = curve;
        progress.Report(Report(1, 4, 1));
        progress.Report(Report(2, 2, 0.5));
        Assert.Equal([1L, 2], announced);
        Assert.Equal(new Dictionary<string, int> { ["total"] = 2, ["fit"] = 2, ["reconstruction"] = 2 }, PointsPerSeries(curve));
        Assert.Equal(Math.Log10(2.5), curve.ToCharts()[0].Series[0].Points[1].Y, 12);   // losses on a log10 axis
        var svg = curve.ToSvg();
        Assert.DoesNotContain("Validation round trip", SvgChart.Texts(svg));
        Assert.Equal(3, SvgChart.SeriesColors(svg).Count);
        Assert.Contains("log10 of the loss", SvgChart.Texts(svg));

        progress.Report(Report(3, 1, 0, val: 24.5));
        progress.Report(Report(4, 0.5, 0.25));
        Assert.Equal(4, curve.Reports.Count);
        Assert.Equal(24.5, curve.LastValidationPsnr);
        // A term of exactly 0 has no point on the log axis; the validation line has one point per validation.
        Assert.Equal(new Dictionary<string, int> { ["total"] = 4, ["fit"] = 4, ["reconstruction"] = 3, ["validation Y-PSNR"] = 1 }, PointsPerSeries(curve));
        svg = curve.ToSvg();
        Assert.Contains("Validation round trip", SvgChart.Texts(svg));
        Assert.Contains("mean Y-PSNR (dB)", SvgChart.Texts(svg));
        Assert.Equal(4, SvgChart.LinePoints(svg, "#1F77B4"));
        // The PNG: two charts stacked.
        var png = curve.ToPng();
        Assert.True(png.AsSpan(0, 8).SequenceEqual(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }));
        Assert.Equal(2 * ChartRenderer.ChartHeight, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }

    [Fact]
    public void TheTermsDrawnCanBeChosen()
    {
        var curve = new TrainingCurve(["fit"]);
        curve.Report(Report(1, 4, 1));
        Assert.Equal(["total", "fit"], PointsPerSeries(curve).Keys);
    }
}
