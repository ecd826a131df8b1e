using MLNet.Rescale.Tensors;
using Xunit;
using static MLNet.Rescale.Tensors.Tests.TestUtil;

namespace MLNet.Rescale.Tensors.Tests;

/// <summary>Straight-through, detach, retained graphs and the gradient modes.</summary>
public class AutogradTests
{
    [Fact]
    public void StraightThroughRoundHasForwardRoundAndGradientOne()
    {
        using var s = Torch.NewScope();
        var x = D([0.2, 0.5, 1.5, 2.7, -1.4, -2.5], 6).RequiresGrad_();
        var y = Functional.StraightThrough(x, x.Round());
        Assert.Equal(new[] { 0.0, 0, 2, 3, -1, -2 }, y.ToArray<double>());
        y.Sum().Backward();
        Assert.Equal(Enumerable.Repeat(1.0, 6), x.Grad!.ToArray<double>());
        // plain rounding has no useful gradient
        var z = D([0.2, 1.7], 2).RequiresGrad_();
        z.Round().Sum().Backward();
        Assert.Equal(new[] { 0.0, 0.0 }, z.Grad!.ToArray<double>());
        // weighted: the upstream gradient passes through unchanged
        var q = D([0.4, 0.6], 2).RequiresGrad_();
        (Functional.StraightThrough(q, q.Round()) * D([3, -5], 2)).Sum().Backward();
        Assert.Equal(new[] { 3.0, -5.0 }, q.Grad!.ToArray<double>());
    }

    [Fact]
    public void DetachCutsTheGradient()
    {
        using var s = Torch.NewScope();
        var x = D([1, 2, 3], 3).RequiresGrad_();
        var d = x.Detach();
        Assert.False(d.RequiresGrad);
        Assert.True(d.IsLeaf);
        var y = (x * x.Detach()).Sum(); // d/dx = x.detach()
        y.Backward();
        Assert.Equal(new[] { 1.0, 2, 3 }, x.Grad!.ToArray<double>());
        // detach shares storage with the original
        Assert.Equal(x.ToArray<double>(), d.ToArray<double>());
    }

    [Fact]
    public void GradientsAccumulateAndZeroGradDropsThem()
    {
        using var s = Torch.NewScope();
        var x = D([1, 2], 2).RequiresGrad_();
        Assert.Null(x.Grad);
        Assert.True(x.IsLeaf);
        var y = x * 3;
        Assert.False(y.IsLeaf);
        y.Sum().Backward();
        (x * 2).Sum().Backward();
        Assert.Equal(new[] { 5.0, 5 }, x.Grad!.ToArray<double>());
        x.ZeroGrad();
        Assert.Null(x.Grad);
    }

    [Fact]
    public void BackwardWithRetainGraph()
    {
        using var s = Torch.NewScope();
        var x = D([1, 2], 2).RequiresGrad_();
        var y = (x.Exp() * x).Sum();
        y.Backward(retainGraph: true);
        var g1 = x.Grad!.ToArray<double>();
        y.Backward();
        var g2 = x.Grad!.ToArray<double>();
        Close(g1.Select(v => 2 * v).ToArray(), g2, 1e-12);
        Close([2 * Math.E, 3 * Math.Exp(2)], g1, 1e-12);
        // without retaining, a second pass over freed buffers fails with libtorch's message
        var z = (x.Exp() * x).Sum();
        z.Backward();
        var e = Assert.Throws<TorchException>(() => z.Backward());
        Assert.Contains("second time", e.Message);
    }

    [Fact]
    public void BackwardWithAnExplicitUpstreamGradient()
    {
        using var s = Torch.NewScope();
        var x = D([1, 2, 3], 3).RequiresGrad_();
        (x * x).Backward(D([1, 10, 100], 3));
        Assert.Equal(new[] { 2.0, 40, 600 }, x.Grad!.ToArray<double>());
        Assert.Throws<TorchException>(() => (x * 2).Backward()); // non-scalar without a gradient
    }

    [Fact]
    public void NoGradDisablesRecordingAndRestores()
    {
        using var s = Torch.NewScope();
        var x = D([1, 2], 2).RequiresGrad_();
        Assert.True(Torch.IsGradEnabled);
        using (Torch.NoGrad())
        {
            Assert.False(Torch.IsGradEnabled);
            var y = x * 2;
            Assert.False(y.RequiresGrad);
            using (Torch.EnableGrad())
            {
                Assert.True(Torch.IsGradEnabled);
                Assert.True((x * 2).RequiresGrad);
            }
            Assert.False(Torch.IsGradEnabled);
            using (Torch.NoGrad()) Assert.False(Torch.IsGradEnabled);
            Assert.False(Torch.IsGradEnabled);
        }
        Assert.True(Torch.IsGradEnabled);
        Assert.True((x * 2).RequiresGrad);
        var ng = Torch.NoGrad();
        ng.Dispose();
        ng.Dispose(); // idempotent: must not re-disable
        Assert.True(Torch.IsGradEnabled);
    }

    [Fact]
    public void NoGradIsPerThread()
    {
        using var ng = Torch.NoGrad();
        bool other = false;
        var t = new Thread(() => other = Torch.IsGradEnabled);
        t.Start();
        t.Join();
        Assert.True(other);
        Assert.False(Torch.IsGradEnabled);
    }

    [Fact]
    public void InferenceModeWorks()
    {
        using var s = Torch.NewScope();
        var x = D([1, 2], 2).RequiresGrad_();
        Tensor y;
        using (Torch.InferenceMode())
        {
            Assert.False(Torch.IsGradEnabled);
            y = x * 2 + 1;
            Assert.False(y.RequiresGrad);
            Assert.Equal(new[] { 3.0, 5 }, y.ToArray<double>());
            var c = Functional.Conv2d(Tensor.Ones([1, 1, 3, 3]), Tensor.Ones([1, 1, 3, 3]));
            Assert.Equal(9, c.Item());
        }
        Assert.True(Torch.IsGradEnabled);
        Assert.True((x * 2).RequiresGrad);
        // an inference tensor can be read outside but cannot take part in autograd recording
        Assert.Equal(new[] { 3.0, 5 }, y.ToArray<double>());
        Assert.Throws<TorchException>(() => y.RequiresGrad_());
        var z = x * 2;
        z.Sum().Backward();
        Assert.Equal(new[] { 2.0, 2 }, x.Grad!.ToArray<double>());
    }

    [Fact]
    public void CloneAndAliasKeepTheGraph()
    {
        using var s = Torch.NewScope();
        var x = D([1, 2], 2).RequiresGrad_();
        var c = x.Clone();
        Assert.True(c.RequiresGrad);
        (c * 3).Sum().Backward();
        Assert.Equal(new[] { 3.0, 3 }, x.Grad!.ToArray<double>());
        var a = x.Alias();
        Assert.True(a.IsLeaf && a.RequiresGrad);
        x.ZeroGrad();
        (a * 4).Sum().Backward();
        Assert.Equal(new[] { 4.0, 4 }, x.Grad!.ToArray<double>());
    }
}
