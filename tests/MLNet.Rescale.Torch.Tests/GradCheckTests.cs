using MLNet.Rescale.Tensors;
using Xunit;
using static MLNet.Rescale.Tensors.Tests.TestUtil;

namespace MLNet.Rescale.Tensors.Tests;

/// <summary>Autograd gradients of every differentiable op against central finite differences in float64.</summary>
public class GradCheckTests
{
    private static Tensor X(params long[] shape) => RandD(shape, -1, 1, seed: 101);
    private static Tensor Pos(params long[] shape) => RandD(shape, 0.5, 2, seed: 102);

    [Fact] public void Exp() => GradCheck(x => x.Exp(), X(3, 4));
    [Fact] public void Log() => GradCheck(x => x.Log(), Pos(3, 4));
    [Fact] public void Sigmoid() => GradCheck(x => x.Sigmoid(), X(3, 4));
    [Fact] public void Tanh() => GradCheck(x => x.Tanh(), X(3, 4));
    [Fact] public void Sqrt() => GradCheck(x => x.Sqrt(), Pos(3, 4));
    [Fact] public void Sin() => GradCheck(x => x.Sin(), X(3, 4));
    [Fact] public void Cos() => GradCheck(x => x.Cos(), X(3, 4));
    [Fact] public void Neg() => GradCheck(x => -x, X(3, 4));
    [Fact] public void PowScalar() => GradCheck(x => x.Pow(2.5), Pos(3, 4));
    [Fact] public void PowNegativeScalar() => GradCheck(x => x.Pow(-1.5), Pos(3, 4));

    [Fact]
    public void PowTensorBaseAndExponent()
    {
        using var s = Torch.NewScope();
        var e = RandD([4], 0.5, 2, seed: 5);
        GradCheck(x => x.Pow(e), Pos(3, 4));
        var b = RandD([3, 1], 0.5, 2, seed: 6);
        GradCheck(x => b.Pow(x), X(3, 4));
    }

    [Fact]
    public void AbsAwayFromZero()
    {
        using var s = Torch.NewScope();
        var x = D([-1.5, -0.3, 0.2, 0.9, 2.0, -0.7], 2, 3);
        GradCheck(t => t.Abs(), x);
    }

    [Fact]
    public void ClampAwayFromTheBounds()
    {
        using var s = Torch.NewScope();
        var x = D([-1.5, -0.3, 0.2, 0.9, 2.0, -0.7, 0.45, -0.45], 2, 4);
        GradCheck(t => t.Clamp(-0.5, 0.5), x);
        GradCheck(t => t.Clamp(min: -0.5), x);
        GradCheck(t => t.Clamp(max: 0.5), x);
    }

    [Fact]
    public void LeakyRelu()
    {
        using var s = Torch.NewScope();
        GradCheck(t => t.LeakyRelu(0.2), D([-1.5, -0.3, 0.2, 0.9, 2.0, -0.7], 2, 3));
    }

    [Fact]
    public void AddSubMulDivWithBroadcasting()
    {
        using var s = Torch.NewScope();
        var row = RandD([1, 4], 0.5, 2, seed: 7);
        var col = RandD([3, 1], 0.5, 2, seed: 8);
        GradCheck(x => x * row, X(3, 4));
        GradCheck(x => x / row, X(3, 4));
        GradCheck(x => col / x, Pos(3, 4));
        GradCheck(x => row * x + col - x / 3, X(3, 4));
        // the broadcast operand itself receives the summed gradient
        var full = X(3, 4);
        GradCheck(r => full * r, RandD([1, 4], 0.5, 2, seed: 9));
        GradCheck(c => full / c, RandD([3, 1], 0.5, 2, seed: 10));
        GradCheck(c => c - full, RandD([3, 1], seed: 11));
        GradCheck(x => 2 / x + 1 - x * 3, Pos(3, 4));
        GradCheck(x => 1 - x, X(2, 2));
    }

    [Fact]
    public void SumAndMeanByDims()
    {
        GradCheck(x => x.Sum(), X(2, 3, 4));
        GradCheck(x => x.Sum([1]), X(2, 3, 4));
        GradCheck(x => x.Sum([0, 2], keepDim: true), X(2, 3, 4));
        GradCheck(x => x.Mean(), X(2, 3, 4));
        GradCheck(x => x.Mean([2]), X(2, 3, 4));
        GradCheck(x => x.Mean([-1, 0], keepDim: true), X(2, 3, 4));
    }

    [Fact]
    public void MaxAndMinWithoutTies()
    {
        GradCheck(x => x.Max([1]), X(3, 5));
        GradCheck(x => x.Max(), X(3, 5));
        GradCheck(x => x.Min(), X(3, 5));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 1, 1)]
    [InlineData(1, 0, 2)]
    [InlineData(2, 1, 2)]
    [InlineData(2, 2, 4)]
    public void Conv2dInputWeightAndBias(int stride, int padding, int groups)
    {
        using var s = Torch.NewScope();
        var x = RandD([2, 4, 6, 5], seed: 31);
        var w = RandD([4, 4 / groups, 3, 3], seed: 32);
        var b = RandD([4], seed: 33);
        GradCheck(t => Functional.Conv2d(t, w, b, stride, padding, groups: groups), x);
        GradCheck(t => Functional.Conv2d(x, t, b, stride, padding, groups: groups), w);
        GradCheck(t => Functional.Conv2d(x, w, t, stride, padding, groups: groups), b);
    }

    [Fact]
    public void Conv2dDilated()
    {
        using var s = Torch.NewScope();
        var x = RandD([1, 2, 7, 7], seed: 34);
        var w = RandD([3, 2, 3, 3], seed: 35);
        GradCheck(t => Functional.Conv2d(t, w, dilation: 2, padding: 2), x);
        GradCheck(t => Functional.Conv2d(x, t, dilation: 2, padding: 2), w);
    }

    [Theory]
    [InlineData(1, 0, 0, 1)]
    [InlineData(2, 1, 1, 1)]
    [InlineData(2, 0, 0, 2)]
    public void ConvTranspose2d(int stride, int padding, int outputPadding, int groups)
    {
        using var s = Torch.NewScope();
        var x = RandD([2, 4, 3, 4], seed: 41);
        var w = RandD([4, 6 / groups, 3, 3], seed: 42);
        var b = RandD([6], seed: 43);
        GradCheck(t => Functional.ConvTranspose2d(t, w, b, stride, padding, outputPadding, groups), x);
        GradCheck(t => Functional.ConvTranspose2d(x, t, b, stride, padding, outputPadding, groups), w);
        GradCheck(t => Functional.ConvTranspose2d(x, w, t, stride, padding, outputPadding, groups), b);
    }

    [Fact]
    public void AvgPool2d()
    {
        GradCheck(x => Functional.AvgPool2d(x, 2), X(1, 2, 4, 6));
        GradCheck(x => Functional.AvgPool2d(x, 3, 1, 1), X(1, 2, 4, 5));
    }

    [Fact]
    public void InterpolateBilinear()
    {
        GradCheck(x => Functional.Interpolate(x, 7, 5, InterpolationMode.Bilinear), X(1, 2, 3, 4));
        GradCheck(x => Functional.Interpolate(x, 2, 3, InterpolationMode.Bilinear), X(1, 2, 5, 6));
        GradCheck(x => Functional.Interpolate(x, 5, 7, InterpolationMode.Bilinear, alignCorners: true), X(1, 1, 3, 4));
        GradCheck(x => Functional.Interpolate(x, 6, 8), X(1, 1, 3, 4));
    }

    [Fact]
    public void PixelShuffleAndUnshuffle()
    {
        GradCheck(x => Functional.PixelShuffle(x, 2), X(1, 8, 2, 3));
        GradCheck(x => Functional.PixelUnshuffle(x, 2), X(1, 2, 4, 6));
    }

    [Fact]
    public void ChannelsLastAndItsChannelConcatenation()
    {
        using var s = Torch.NewScope();
        var cl = MemoryFormat.ChannelsLast;
        var other = X(2, 2, 3, 3).Contiguous(cl);
        GradCheck(x => Tensor.Cat([x.Contiguous(cl), other, (x * 2).Contiguous(cl)], 1), X(2, 3, 3, 3));
        GradCheck(x => Tensor.Cat([other, x.Contiguous(cl).LeakyRelu(0.2)], 1).Contiguous(), X(2, 3, 3, 3));
    }

    [Fact]
    public void Pad()
    {
        GradCheck(x => Functional.Pad(x, 1, 2, 2, 1, PadMode.Reflect), X(1, 2, 4, 4));
        GradCheck(x => Functional.Pad(x, 1, 2, 2, 1, PadMode.Replicate), X(1, 2, 3, 3));
        GradCheck(x => Functional.Pad(x, 1, 0, 0, 1, PadMode.Constant, 3), X(1, 2, 3, 3));
    }

    [Fact]
    public void CatNarrowSlicePermuteReshape()
    {
        using var s = Torch.NewScope();
        var other = X(2, 2, 4);
        GradCheck(x => Tensor.Cat([x, other, x * 2], 1), X(2, 3, 4));
        GradCheck(x => Tensor.Stack([x, other.Narrow(1, 0, 1).Reshape(2, 4)], 0), X(2, 4));
        GradCheck(x => x.Narrow(2, 1, 2), X(2, 3, 4));
        GradCheck(x => x.Slice(1, 0, 3, 2), X(2, 3, 4));
        GradCheck(x => x.Permute(2, 0, 1), X(2, 3, 4));
        GradCheck(x => x.Reshape(6, 4).Transpose(0, 1), X(2, 3, 4));
        GradCheck(x => x.View(-1), X(2, 3, 4));
        GradCheck(x => x.Flip(0, 2).Rot90(1), X(2, 3, 4));
        GradCheck(x => x.Expand(3, 4, 5) * X(3, 4, 5), X(4, 1));
    }

    [Fact]
    public void MatMul()
    {
        using var s = Torch.NewScope();
        var b = X(4, 2);
        var a = X(3, 4);
        GradCheck(x => x.MatMul(b), X(3, 4));
        GradCheck(x => a.MatMul(x), X(4, 2));
        GradCheck(x => x.MatMul(b), X(2, 3, 4));
    }

    [Fact]
    public void TensorDot()
    {
        using var s = Torch.NewScope();
        var y = X(4, 3, 5);
        var x0 = X(2, 3, 4);
        GradCheck(x => x.TensorDot(y, [1, 2], [1, 0]), X(2, 3, 4));
        GradCheck(t => x0.TensorDot(t, [1, 2], [1, 0]), X(4, 3, 5));
    }

    [Fact]
    public void SoftmaxAndLogSoftmax()
    {
        GradCheck(x => x.Softmax(1), X(3, 4));
        GradCheck(x => x.Softmax(0), X(3, 4));
        GradCheck(x => x.LogSoftmax(-1), X(3, 4));
        GradCheck(x => (x * 3).LogSoftmax(0), X(3, 4));
    }

    [Fact]
    public void WhereAndSquareAndNorm()
    {
        using var s = Torch.NewScope();
        var mask = D([1, 0, 1, 0, 0, 1], 2, 3).Gt(0.5);
        var other = X(2, 3);
        GradCheck(x => Tensor.Where(mask, x, other), X(2, 3));
        GradCheck(x => x.Square(), X(2, 3));
        GradCheck(x => x.Norm(), X(2, 3));
        GradCheck(x => x.Rsqrt(), Pos(2, 3));
    }
}

/// <summary>The checker itself notices a wrong gradient.</summary>
public class GradCheckSelfTest
{
    [Fact]
    public void DetectsAWrongGradient()
    {
        using var s = Torch.NewScope();
        // x · detach(x) has true derivative 2x but autograd sees x: the check must fail.
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => GradCheck(x => x * x.Detach(), RandD([3], 0.5, 1)));
    }
}
