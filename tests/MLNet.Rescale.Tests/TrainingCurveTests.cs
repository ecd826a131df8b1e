using System.Text.RegularExpressions;
using MLNet.Rescale.Reporting;
using MLNet.Rescale.Training;
using Xunit;

namespace MLNet.Rescale.Tests;

public sealed partial class TrainingCurveTests
{
    private static TrainingProgress Report(long iteration, double fit, double rec, double? val = null) =>
        new(iteration, 10, TimeSpan.FromSeconds(iteration), TimeSpan.Zero,
            new Trainer.StepTerms(fit + rec, [new("fit", fit), new("reconstruction", rec)]), 1e-3, val);

    /// <summary>The points of each polyline, by the legend text that follows it.</summary>
    private static Dictionary<string, int> PointsPerSeries(string svg) => Series().Matches(svg)
        .ToDictionary(m => m.Groups[2].Value, m => m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);

    [Fact]
    public void EveryReportIsKeptAndAnnouncedAndDrawn()
    {
        var curve = new TrainingCurve();
        var announced = new List<long>();
        curve.Reported += p => announced.Add(p.Iteration);
        Assert.DoesNotContain("<polyline", curve.ToSvg());
        Assert.Null(curve.LastValidationPsnr);

        IProgress<TrainingProgress> progress = curve;
        progress.Report(Report(1, 4, 1));
        progress.Report(Report(2, 2, 0.5));
        Assert.Equal([1L, 2], announced);
        var svg = curve.ToSvg();
        Assert.Equal(new Dictionary<string, int> { ["total"] = 2, ["fit"] = 2, ["reconstruction"] = 2 }, PointsPerSeries(svg));
        Assert.DoesNotContain("Validation round trip", svg);

        progress.Report(Report(3, 1, 0, val: 24.5));
        progress.Report(Report(4, 0.5, 0.25));
        Assert.Equal(4, curve.Reports.Count);
        Assert.Equal(24.5, curve.LastValidationPsnr);
        svg = curve.ToSvg();
        Assert.Contains("Validation round trip", svg);
        // A term of exactly 0 has no point on the log axis; the validation line has one point per validation.
        Assert.Equal(new Dictionary<string, int> { ["total"] = 4, ["fit"] = 4, ["reconstruction"] = 3, ["val Y-PSNR"] = 1 }, PointsPerSeries(svg));
    }

    [Fact]
    public void TheTermsDrawnCanBeChosen()
    {
        var curve = new TrainingCurve(["fit"]);
        curve.Report(Report(1, 4, 1));
        Assert.Equal(["total", "fit"], PointsPerSeries(curve.ToSvg()).Keys);
    }

    [GeneratedRegex("<polyline [^>]*points=\"([^\"]*)\"/>(?:<circle[^>]*/>)?<line[^>]*/><text[^>]*>([^<]*)</text>")]
    private static partial Regex Series();
}
