using MLNet.Rescale.Conformance;
using MLNet.Rescale.Tests.Shared;
using Xunit;

namespace MLNet.Rescale.Tests;

public class IrnConformanceTests
{
    [Theory]
    [InlineData("irn_x2_small.safetensors")]
    [InlineData("irn_x4_small.safetensors")]
    public void ReproducesReferenceVectors(string file)
    {
        var results = ConformanceRunner.Run(TestPaths.Conformance(file));
        Assert.Equal(["io.forward", "io.lr_quantized", "io.inverse"], results.Select(r => r.Output));
        foreach (var r in results)
            Assert.True(r.Passed, $"{file} {r.Output}: max abs error {r.MaxAbsError:g3} > {r.Tolerance:g3}");
    }
}
