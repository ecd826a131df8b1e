using MLNet.Rescale.Conformance;
using MLNet.Rescale.Tests.Shared;
using Xunit;

namespace MLNet.Rescale.Tests;

public class SainConformanceTests
{
    [Fact]
    public void SainReproducesReferenceVector()
    {
        var results = ConformanceRunner.Run(TestPaths.Conformance("sain_x2_small.safetensors"));
        Assert.Equal(["io.forward", "io.forward_lr", "io.inverse", "io.inverse_lr"], results.Select(r => r.Output));
        AssertAllPass("sain_x2_small", results);
    }

    [Fact]
    public void DiffJpegReproducesReferenceVector()
    {
        var results = ConformanceRunner.Run(TestPaths.Conformance("diffjpeg_small.safetensors"));
        Assert.Equal(
            ["io.out_q30_d", "io.out_q30_r", "io.out_q75_d", "io.out_q75_r", "io.out_q90_d", "io.out_q90_r"],
            results.Select(r => r.Output).Order());
        AssertAllPass("diffjpeg_small", results);
        // Hard rounding follows the reference's operation order, so no coefficient lands on the other side of .5.
        Assert.All(results.Where(r => r.Output.EndsWith("_r", StringComparison.Ordinal)), r => Assert.True(r.MaxAbsError < 1e-6, $"{r.Output}: {r.MaxAbsError:g3}"));
    }

    private static void AssertAllPass(string file, IReadOnlyList<ConformanceResult> results)
    {
        foreach (var r in results)
            Assert.True(r.Passed, $"{file} {r.Output}: max abs error {r.MaxAbsError:g3} > {r.Tolerance:g3}");
    }
}
