using MLNet.Rescale.Engine;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>What <see cref="TorchRuntime"/> sets up when the engine starts.</summary>
public class TorchRuntimeTests
{
    /// <summary>
    /// NNPACK is off once the engine runs, so a batch-16 NCHW convolution (Haar's, in training) goes to the oneDNN
    /// kernel the convolution check verified, and libtorch does not log NNPACK's failure on CPUs it does not know.
    /// </summary>
    [Fact]
    public void NnpackIsSwitchedOff()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.Equal(false, TorchRuntime.NnpackEnabled);
        // The networks' batch-16 NCHW case still computes: Haar's grouped 2×2 stride-2 convolution.
        using var scope = NewDisposeScope();
        var x = rand(16, 3, 8, 8);
        var w = ones(12, 1, 2, 2) / 4;
        var y = nn.functional.conv2d(x, w, strides: [2, 2], groups: 3);
        Assert.Equal(new long[] { 16, 12, 4, 4 }, y.shape);
        var expected = nn.functional.avg_pool2d(x, 2);
        Assert.True(y[.., 0..1].allclose(expected[.., 0..1], rtol: 1e-5, atol: 1e-6));
    }
}
