using MLNet.Rescale.Tensors;
using Xunit;

namespace MLNet.Rescale.Tensors.Tests;

public class SmokeTests
{
    [Fact]
    public void AddsAndReadsBack()
    {
        using var scope = Torch.NewScope();
        var a = Tensor.FromArray([1, 2, 3, 4], 2, 2);
        var b = (a * 2 + 1).ToArray<float>();
        Assert.Equal(new float[] { 3, 5, 7, 9 }, b);
        Assert.Equal("Tensor[2, 2] Float32 cpu", a.ToString());
    }
}
