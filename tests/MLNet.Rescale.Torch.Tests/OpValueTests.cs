using MLNet.Rescale.Tensors;
using Xunit;
using static MLNet.Rescale.Tensors.Tests.TestUtil;

namespace MLNet.Rescale.Tensors.Tests;

/// <summary>Forward values of every op against hand-computed expectations.</summary>
public class OpValueTests
{
    private static double[] Map(double[] x, Func<double, double> f) => x.Select(v => f((float)v)).ToArray();
    private static float[] Fl(params double[] v) => v.Select(x => (float)x).ToArray();

    // ---- arithmetic ----------------------------------------------------------------------

    [Fact]
    public void ArithmeticBroadcastsInBothOrders()
    {
        using var s = Torch.NewScope();
        var a = F([1, 2, 3, 4, 5, 6], 2, 3);
        var b = F([10, 20, 30], 3);
        var c = F([2, 4], 2, 1);
        Equal(a + b, [2, 3], [11, 22, 33, 14, 25, 36]);
        Equal(b + a, [2, 3], [11, 22, 33, 14, 25, 36]);
        Equal(a - b, [2, 3], [-9, -18, -27, -6, -15, -24]);
        Equal(b - a, [2, 3], [9, 18, 27, 6, 15, 24]);
        Equal(a * b, [2, 3], [10, 40, 90, 40, 100, 180]);
        Equal(b * a, [2, 3], [10, 40, 90, 40, 100, 180]);
        Equal(a / b, [2, 3], [0.1, 0.1, 0.1, 0.4, 0.25, 0.2]);
        Equal(b / a, [2, 3], [10, 10, 10, 2.5, 4, 5]);
        Equal(a * c, [2, 3], [2, 4, 6, 16, 20, 24]);
        Equal(c - b, [2, 3], [-8, -18, -28, -6, -16, -26]);
        // [2,1] with [3] broadcasts to [2,3]
        Equal(c + b, [2, 3], [12, 22, 32, 14, 24, 34]);
    }

    [Fact]
    public void ArithmeticWithScalarsInBothOrders()
    {
        using var s = Torch.NewScope();
        var a = F([1, 2, 4, -8], 4);
        Equal(a + 1, [4], [2, 3, 5, -7]);
        Equal(1 + a, [4], [2, 3, 5, -7]);
        Equal(a - 1, [4], [0, 1, 3, -9]);
        Equal(1 - a, [4], [0, -1, -3, 9]);
        Equal(a * 3, [4], [3, 6, 12, -24]);
        Equal(3 * a, [4], [3, 6, 12, -24]);
        Equal(a / 2, [4], [0.5, 1, 2, -4]);
        Equal(2 / a, [4], [2, 1, 0.5, -0.25]);
        Equal(-a, [4], [-1, -2, -4, 8]);
        Assert.Equal(DType.Float32, (a * 2.5).DType);
        Assert.Equal(DType.Float32, (2.5 / a).DType);
    }

    [Fact]
    public void ScalarDividedByIntegerTensorIsFloat()
    {
        using var s = Torch.NewScope();
        var i = Tensor.From<long>([1, 2, 4], [3]);
        var r = 1 / i;
        Assert.Equal(DType.Float32, r.DType);
        Equal(r, [3], [1, 0.5, 0.25]);
    }

    // ---- elementwise -----------------------------------------------------------------------

    [Fact]
    public void UnaryFunctions()
    {
        using var s = Torch.NewScope();
        double[] x = [0, 1, -1, 2, -0.5, 3.25];
        var t = F(Fl(x), 6);
        Equal(t.Exp(), [6], Map(x, Math.Exp));
        Equal(t.Sigmoid(), [6], Map(x, v => 1 / (1 + Math.Exp(-v))));
        Equal(t.Tanh(), [6], Map(x, Math.Tanh));
        Equal(t.Abs(), [6], [0, 1, 1, 2, 0.5, 3.25]);
        Equal(t.Sin(), [6], Map(x, Math.Sin));
        Equal(t.Cos(), [6], Map(x, Math.Cos));
        double[] pos = [1, Math.E, 0.5, 4, 2, 1e-3];
        var p = F(Fl(pos), 6);
        Equal(p.Log(), [6], Map(pos, Math.Log));
        Equal(p.Sqrt(), [6], Map(pos, Math.Sqrt));
        Equal(F([0, 1, 4, 9], 4).Sqrt(), [4], [0, 1, 2, 3]);
        Equal(F([1, 2, 3], 3).Pow(2), [3], [1, 4, 9]);
        Equal(F([1, 4, 9], 3).Pow(0.5), [3], [1, 2, 3]);
        Equal(F([2, 4], 2).Pow(-1), [2], [0.5, 0.25]);
        Equal(F([2, 3], 2).Pow(F([3, 2], 2)), [2], [8, 9]);
        Equal(F([2, 3], 2, 1).Pow(F([1, 2, 3], 3)), [2, 3], [2, 4, 8, 3, 9, 27]);
    }

    [Fact]
    public void ClampWithEitherOrBothBounds()
    {
        using var s = Torch.NewScope();
        var x = F([-2, -0.5f, 0.5f, 2], 4);
        Equal(x.Clamp(min: -1), [4], [-1, -0.5, 0.5, 2]);
        Equal(x.Clamp(max: 1), [4], [-2, -0.5, 0.5, 1]);
        Equal(x.Clamp(-1, 1), [4], [-1, -0.5, 0.5, 1]);
        Equal(x.Clamp(0, 0), [4], [0, 0, 0, 0]);
    }

    [Fact]
    public void RoundIsHalfToEven()
    {
        using var s = Torch.NewScope();
        var x = F([0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2.4f, 2.6f, -2.6f], 9);
        Equal(x.Round(), [9], [0, 2, 2, 0, -2, -2, 2, 3, -3]);
    }

    [Fact]
    public void LeakyRelu()
    {
        using var s = Torch.NewScope();
        Equal(F([-2, 0, 3, -0.5f], 4).LeakyRelu(0.1), [4], [-0.2, 0, 3, -0.05]);
        Equal(Functional.LeakyRelu(F([-100, 1], 2)), [2], [-1, 1]);
    }

    [Fact]
    public void WhereSelectsElementwise()
    {
        using var s = Torch.NewScope();
        var x = F([-1, 2, -3, 4], 2, 2);
        var y = F([10, 20], 2);
        Equal(Tensor.Where(x.Gt(0), x, y), [2, 2], [10, 2, 10, 4]);
        Equal(Tensor.Where(x.Lt(0), x, Tensor.Zeros([])), [2, 2], [-1, 0, -3, 0]);
        Assert.Equal(DType.Bool, x.Gt(0).DType);
        Assert.Equal(new[] { false, true, false, true }, x.Gt(0).ToArray<bool>());
    }

    // ---- reductions -------------------------------------------------------------------------

    [Fact]
    public void ReductionsOverAllAndByDims()
    {
        using var s = Torch.NewScope();
        var a = F([1, 2, 3, 4, 5, 6], 2, 3);
        Equal(a.Sum(), [], [21]);
        Equal(a.Sum([0]), [3], [5, 7, 9]);
        Equal(a.Sum([1]), [2], [6, 15]);
        Equal(a.Sum([1], keepDim: true), [2, 1], [6, 15]);
        Equal(a.Sum([0, 1]), [], [21]);
        Equal(a.Sum([-1]), [2], [6, 15]);
        Equal(a.Mean(), [], [3.5]);
        Equal(a.Mean([0]), [3], [2.5, 3.5, 4.5]);
        Equal(a.Mean([1], keepDim: true), [2, 1], [2, 5]);
        Equal(a.Max(), [], [6]);
        Equal(a.Max([0]), [3], [4, 5, 6]);
        Equal(a.Max([1], keepDim: true), [2, 1], [3, 6]);
        Equal(a.Min(), [], [1]);
        Assert.Equal(21, a.Sum().Item());
    }

    [Fact]
    public void ArgMaxAndOneHot()
    {
        using var s = Torch.NewScope();
        var x = F([1, 5, 3, 7, 2, 9], 2, 3);
        var am = x.ArgMax(1);
        Assert.Equal(DType.Int64, am.DType);
        Assert.Equal(new long[] { 1, 2 }, am.ToArray<long>());
        Assert.Equal(new long[] { 1, 0, 1 }, x.ArgMax(0).ToArray<long>());
        Assert.Equal(new long[] { 2, 1 }, x.ArgMax(1, keepDim: true).Shape);
        var oh = Tensor.From<long>([0, 2, 1], [3]).OneHot(3);
        Assert.Equal(new long[] { 3, 3 }, oh.Shape);
        Assert.Equal(new long[] { 1, 0, 0, 0, 0, 1, 0, 1, 0 }, oh.ToArray<long>());
        Assert.Equal(new long[] { 2, 3, 4 }, Tensor.Zeros([2, 3], DType.Int64).OneHot(4).Shape);
    }

    [Fact]
    public void SoftmaxAndLogSoftmax()
    {
        using var s = Torch.NewScope();
        var x = F([1, 2, 3, -1, 0, 1000], 2, 3);
        double z = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        double[] row0 = [Math.Exp(1) / z, Math.Exp(2) / z, Math.Exp(3) / z];
        Equal(x.Softmax(1), [2, 3], [.. row0, 0, 0, 1]);
        Equal(x.Softmax(-1), [2, 3], [.. row0, 0, 0, 1]);
        double lz = Math.Log(z);
        Equal(x.LogSoftmax(1), [2, 3], [1 - lz, 2 - lz, 3 - lz, -1001, -1000, 0]);
        // along dim 0: columns (1,-1), (2,0), (3,1000)
        double c0 = 1 / (1 + Math.Exp(-2));
        Equal(x.Softmax(0), [2, 3], [c0, c0, 0, 1 - c0, 1 - c0, 1], 1e-6);
    }

    // ---- convolution and pooling ---------------------------------------------------------------

    private static Tensor Seq(int n, params long[] shape) => Tensor.Arange(1, n + 1).Reshape(shape);

    [Fact]
    public void Conv2dByHand()
    {
        using var s = Torch.NewScope();
        var x = Seq(9, 1, 1, 3, 3); // [[1,2,3],[4,5,6],[7,8,9]]
        var w = F([1, 2, 3, 4], 1, 1, 2, 2);
        Equal(Functional.Conv2d(x, w), [1, 1, 2, 2], [37, 47, 67, 77]);
        Equal(Functional.Conv2d(x, w, F([0.5f], 1)), [1, 1, 2, 2], [37.5, 47.5, 67.5, 77.5]);

        var ones = Tensor.Ones([1, 1, 3, 3]);
        Equal(Functional.Conv2d(x, ones, padding: 1), [1, 1, 3, 3], [12, 21, 16, 27, 45, 33, 24, 39, 28]);
        Equal(Functional.Conv2d(x, ones, padding: 1, stride: 2), [1, 1, 2, 2], [12, 16, 24, 28]);
        // dilation 2 of a 2x2 kernel touches the corners
        Equal(Functional.Conv2d(x, w, dilation: 2), [1, 1, 1, 1], [1 + 2 * 3 + 3 * 7 + 4 * 9]);
    }

    [Fact]
    public void Conv2dWithGroupsAndBiasByHand()
    {
        using var s = Torch.NewScope();
        var x = Seq(8, 1, 2, 2, 2); // ch0 = 1..4, ch1 = 5..8
        var w = F([2, -1], 2, 1, 1, 1);
        Equal(Functional.Conv2d(x, w, F([1, 10], 2), groups: 2), [1, 2, 2, 2], [3, 5, 7, 9, 5, 4, 3, 2]);
        // without groups a [1,2,1,1] kernel mixes both channels: 2·ch0 − ch1
        Equal(Functional.Conv2d(x, F([2, -1], 1, 2, 1, 1)), [1, 1, 2, 2], [-3, -2, -1, 0]);
    }

    [Theory]
    [InlineData(1, 0, 1, 1)]
    [InlineData(2, 1, 1, 1)]
    [InlineData(1, 1, 2, 1)]
    [InlineData(2, 2, 1, 2)]
    [InlineData(3, 1, 1, 4)]
    public void Conv2dMatchesDirectSum(int stride, int padding, int dilation, int groups)
    {
        using var s = Torch.NewScope();
        int n = 2, cin = 4, cout = 4, h = 7, wd = 6, k = 3;
        var x = RandD([n, cin, h, wd], seed: 3);
        var w = RandD([cout, cin / groups, k, k], seed: 4);
        var b = RandD([cout], seed: 5);
        var y = Functional.Conv2d(x, w, b, stride, padding, dilation, groups);
        var expected = Ref.Conv2d(x.ToArray<double>(), [n, cin, h, wd], w.ToArray<double>(), [cout, cin / groups, k, k],
            b.ToArray<double>(), stride, padding, dilation, groups, out var shape);
        Equal(y, shape, expected, 1e-12);
    }

    [Fact]
    public void ConvTranspose2dByHand()
    {
        using var s = Torch.NewScope();
        var x = Seq(4, 1, 1, 2, 2);
        var w = Tensor.Ones([1, 1, 2, 2]);
        Equal(Functional.ConvTranspose2d(x, w), [1, 1, 3, 3], [1, 3, 2, 4, 10, 6, 3, 7, 4]);
        Equal(Functional.ConvTranspose2d(x, w, stride: 2), [1, 1, 4, 4], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
        Equal(Functional.ConvTranspose2d(x, w, F([1], 1), stride: 2, padding: 1), [1, 1, 2, 2], [2, 3, 4, 5]);
        Equal(Functional.ConvTranspose2d(x, w, stride: 2, outputPadding: 1), [1, 1, 5, 5],
            [1, 1, 2, 2, 0, 1, 1, 2, 2, 0, 3, 3, 4, 4, 0, 3, 3, 4, 4, 0, 0, 0, 0, 0, 0]);
    }

    [Theory]
    [InlineData(1, 0, 0, 1)]
    [InlineData(2, 1, 1, 1)]
    [InlineData(2, 0, 0, 2)]
    public void ConvTranspose2dIsTheAdjointOfConv2d(int stride, int padding, int outputPadding, int groups)
    {
        // <conv(x, w), y> = <x, conv_transpose(y, w)> for every x, y: the defining property.
        using var s = Torch.NewScope();
        var x = RandD([1, 4, 7, 7], seed: 11);
        var w = RandD([4, 4 / groups, 3, 3], seed: 12);
        var cx = Functional.Conv2d(x, w, stride: stride, padding: padding, groups: groups);
        var y = RandD(cx.Shape, seed: 13);
        var ty = Functional.ConvTranspose2d(y, w, stride: stride, padding: padding, outputPadding: outputPadding, groups: groups);
        if (outputPadding == 0) Assert.Equal(x.Shape, ty.Shape);
        var lhs = (cx * y).Sum().Item();
        var rhs = (x * ty.Narrow(2, 0, 7).Narrow(3, 0, 7)).Sum().Item();
        Assert.Equal(lhs, rhs, 1e-10);
    }

    [Fact]
    public void AvgPool2dByHand()
    {
        using var s = Torch.NewScope();
        Equal(Functional.AvgPool2d(Seq(16, 1, 1, 4, 4), 2), [1, 1, 2, 2], [3.5, 5.5, 11.5, 13.5]);
        Equal(Functional.AvgPool2d(Seq(9, 1, 1, 3, 3), 2, stride: 1), [1, 1, 2, 2], [3, 4, 6, 7]);
        // zero padding counts in the divisor (count_include_pad, PyTorch's default)
        Equal(Functional.AvgPool2d(Seq(9, 1, 1, 3, 3), 2, stride: 2, padding: 1), [1, 1, 2, 2], [0.25, 1.25, 2.75, 7]);
    }

    [Fact]
    public void InterpolateNearest()
    {
        using var s = Torch.NewScope();
        Equal(Functional.Interpolate(Seq(4, 1, 1, 2, 2), 4, 4), [1, 1, 4, 4],
            [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
        Equal(Functional.Interpolate(Seq(16, 1, 1, 4, 4), 2, 2), [1, 1, 2, 2], [1, 3, 9, 11]);
        Equal(Functional.Interpolate(Seq(2, 1, 1, 1, 2), 2, 3), [1, 1, 2, 3], [1, 1, 2, 1, 1, 2]);
    }

    [Fact]
    public void InterpolateBilinear()
    {
        using var s = Torch.NewScope();
        var x = Seq(4, 1, 1, 2, 2);
        Equal(Functional.Interpolate(x, 4, 4, InterpolationMode.Bilinear), [1, 1, 4, 4],
            [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]);
        Equal(Functional.Interpolate(x, 3, 3, InterpolationMode.Bilinear, alignCorners: true), [1, 1, 3, 3],
            [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
        // downscaling by 2 without antialiasing samples between pixel pairs
        Equal(Functional.Interpolate(Seq(16, 1, 1, 4, 4), 2, 2, InterpolationMode.Bilinear), [1, 1, 2, 2], [3.5, 5.5, 11.5, 13.5]);
    }

    [Fact]
    public void PixelShuffleAndUnshuffle()
    {
        using var s = Torch.NewScope();
        Equal(Functional.PixelShuffle(Seq(4, 1, 4, 1, 1), 2), [1, 1, 2, 2], [1, 2, 3, 4]);
        // out[c, h·r+i, w·r+j] = in[c·r² + i·r + j, h, w]
        var x = Seq(2 * 4 * 2 * 3, 1, 8, 2, 3);
        var y = Functional.PixelShuffle(x, 2);
        Assert.Equal(new long[] { 1, 2, 4, 6 }, y.Shape);
        var xv = x.ToArray<float>();
        var yv = y.ToArray<float>();
        for (int c = 0; c < 2; c++)
            for (int h = 0; h < 2; h++)
                for (int w = 0; w < 3; w++)
                    for (int i = 0; i < 2; i++)
                        for (int j = 0; j < 2; j++)
                            Assert.Equal(xv[((c * 4 + i * 2 + j) * 2 + h) * 3 + w], yv[(c * 4 + h * 2 + i) * 6 + w * 2 + j]);
        Equal(Functional.PixelUnshuffle(y, 2), [1, 8, 2, 3], xv.Select(v => (double)v).ToArray(), 0);

        var r = RandD([2, 3, 6, 9], seed: 9);
        var un = Functional.PixelUnshuffle(r, 3);
        Assert.Equal(new long[] { 2, 27, 2, 3 }, un.Shape);
        Assert.Equal(r.ToArray<double>(), Functional.PixelShuffle(un, 3).ToArray<double>());
    }

    [Fact]
    public void PadModes()
    {
        using var s = Torch.NewScope();
        Equal(Functional.Pad(Seq(4, 1, 1, 2, 2), 1, 0, 0, 1, PadMode.Constant, 9), [1, 1, 3, 3], [9, 1, 2, 9, 3, 4, 9, 9, 9]);
        Equal(Functional.Pad(Seq(4, 1, 1, 2, 2), 0, 1, 1, 0), [1, 1, 3, 3], [0, 0, 0, 1, 2, 0, 3, 4, 0]);
        var x = Seq(9, 1, 1, 3, 3);
        Equal(Functional.Pad(x, 1, 1, 1, 1, PadMode.Reflect), [1, 1, 5, 5],
            [5, 4, 5, 6, 5, 2, 1, 2, 3, 2, 5, 4, 5, 6, 5, 8, 7, 8, 9, 8, 5, 4, 5, 6, 5]);
        Equal(Functional.Pad(x, 1, 1, 1, 1, PadMode.Replicate), [1, 1, 5, 5],
            [1, 1, 2, 3, 3, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6, 7, 7, 8, 9, 9, 7, 7, 8, 9, 9]);
        Equal(Functional.Pad(x, 2, 0, 0, 0, PadMode.Reflect), [1, 1, 3, 5], [3, 2, 1, 2, 3, 6, 5, 4, 5, 6, 9, 8, 7, 8, 9]);
        Equal(Functional.Pad(x, 0, 2, 0, 0, PadMode.Replicate), [1, 1, 3, 5], [1, 2, 3, 3, 3, 4, 5, 6, 6, 6, 7, 8, 9, 9, 9]);
    }

    // ---- shape --------------------------------------------------------------------------------

    [Fact]
    public void CatAndStack()
    {
        using var s = Torch.NewScope();
        Equal(Tensor.Cat([F([1, 2], 1, 2), F([3, 4, 5, 6], 2, 2)], 0), [3, 2], [1, 2, 3, 4, 5, 6]);
        Equal(Tensor.Cat([F([1, 2], 2, 1), F([3, 4, 5, 6], 2, 2)], 1), [2, 3], [1, 3, 4, 2, 5, 6]);
        Equal(Tensor.Cat([F([1, 2], 2, 1), F([3, 4], 2, 1)], -1), [2, 2], [1, 3, 2, 4]);
        Equal(Tensor.Stack([F([1, 2], 2), F([3, 4], 2)], 0), [2, 2], [1, 2, 3, 4]);
        Equal(Tensor.Stack([F([1, 2], 2), F([3, 4], 2)], 1), [2, 2], [1, 3, 2, 4]);
        Equal(Tensor.Stack([F([1, 2], 2), F([3, 4], 2), F([5, 6], 2)], -1), [2, 3], [1, 3, 5, 2, 4, 6]);
    }

    [Fact]
    public void ChannelsLastChangesOnlyTheOrderInMemory()
    {
        using var s = Torch.NewScope();
        var x = Tensor.Arange(0, 24).Reshape(2, 3, 2, 2);
        var nhwc = x.Contiguous(MemoryFormat.ChannelsLast);
        Assert.True(x.IsContiguous());
        Assert.False(x.IsContiguous(MemoryFormat.ChannelsLast));
        Assert.True(nhwc.IsContiguous(MemoryFormat.ChannelsLast));
        Assert.False(nhwc.IsContiguous());
        Equal(nhwc, [2, 3, 2, 2], Values(x), 0);
        Equal(nhwc.Contiguous(), [2, 3, 2, 2], Values(x), 0);
        Assert.True(nhwc.Contiguous().IsContiguous());
        var e = Assert.Throws<TorchException>(() => Tensor.Arange(0, 6).Reshape(2, 3).Contiguous(MemoryFormat.ChannelsLast));
        Assert.Contains("rank 4", e.Message);
    }

    [Fact]
    public void CatOfChannelsLastTensorsAlongChannelsStaysChannelsLast()
    {
        using var s = Torch.NewScope();
        var a = Tensor.Arange(0, 24).Reshape(2, 3, 2, 2);
        var b = Tensor.Arange(100, 108).Reshape(2, 1, 2, 2);
        var c = Tensor.Arange(200, 216).Reshape(2, 2, 2, 2);
        var expected = Values(Tensor.Cat([a, b, c], 1));
        var cl = MemoryFormat.ChannelsLast;
        var joined = Tensor.Cat([a.Contiguous(cl), b.Contiguous(cl), c.Contiguous(cl)], 1);
        Assert.True(joined.IsContiguous(cl));
        Equal(joined, [2, 6, 2, 2], expected, 0);
        // Mixed layouts, another dimension, other dtypes: libtorch's cat, with the same values.
        Equal(Tensor.Cat([a.Contiguous(cl), b, c.Contiguous(cl)], 1), [2, 6, 2, 2], expected, 0);
        Equal(Tensor.Cat([a.Contiguous(cl), a.Contiguous(cl)], 0), [4, 3, 2, 2], [.. Values(a), .. Values(a)], 0);
        Equal(Tensor.Cat([a.To(DType.Float64).Contiguous(cl), b.To(DType.Float64).Contiguous(cl)], 1), [2, 4, 2, 2],
            Values(Tensor.Cat([a, b], 1)), 0);
        // Mismatched pixels are an error, not a garbled tensor.
        var wide = Tensor.Arange(0, 18).Reshape(1, 2, 3, 3).Contiguous(cl);
        Assert.Throws<TorchException>(() => Tensor.Cat([a.Narrow(0, 0, 1).Contiguous(cl), wide], 1));
    }

    [Fact]
    public void NarrowAndSliceWithStep()
    {
        using var s = Torch.NewScope();
        var r = Tensor.Arange(0, 10);
        Equal(r.Narrow(0, 2, 3), [3], [2, 3, 4]);
        Equal(r.Slice(0, 1, 8, 3), [3], [1, 4, 7]);
        Equal(r.Slice(0, 0, 10, 2), [5], [0, 2, 4, 6, 8]);
        Equal(r.Slice(0, 7, 100), [3], [7, 8, 9]);
        var m = Tensor.Arange(0, 12).Reshape(3, 4);
        Equal(m.Slice(1, 1, 4, 2), [3, 2], [1, 3, 5, 7, 9, 11]);
        Equal(m.Narrow(0, 1, 2), [2, 4], [4, 5, 6, 7, 8, 9, 10, 11]);
        Equal(m.Narrow(-1, 3, 1), [3, 1], [3, 7, 11]);
    }

    [Fact]
    public void ReshapeAndView()
    {
        using var s = Torch.NewScope();
        var r = Tensor.Arange(0, 6);
        Equal(r.Reshape(2, 3), [2, 3], [0, 1, 2, 3, 4, 5]);
        Equal(r.Reshape(-1, 2), [3, 2], [0, 1, 2, 3, 4, 5]);
        Equal(r.View(3, 2), [3, 2], [0, 1, 2, 3, 4, 5]);
        Equal(r.View(1, -1, 1), [1, 6, 1], [0, 1, 2, 3, 4, 5]);
        var t = r.Reshape(2, 3).Transpose(0, 1);
        Assert.Throws<TorchException>(() => t.View(6));
        Equal(t.Reshape(6), [6], [0, 3, 1, 4, 2, 5]);
        Assert.Throws<TorchException>(() => r.Reshape(4, 2));
        Equal(F([1, 2], 2, 1).Expand(2, 3), [2, 3], [1, 1, 1, 2, 2, 2]);
    }

    [Fact]
    public void TransposePermuteContiguous()
    {
        using var s = Torch.NewScope();
        var a = F([1, 2, 3, 4, 5, 6], 2, 3);
        Equal(a.Transpose(0, 1), [3, 2], [1, 4, 2, 5, 3, 6]);
        Equal(a.Transpose(-1, -2), [3, 2], [1, 4, 2, 5, 3, 6]);
        Equal(a.Transpose(0, 1).Contiguous(), [3, 2], [1, 4, 2, 5, 3, 6]);
        var x = Tensor.Arange(0, 24).Reshape(2, 3, 4);
        var p = x.Permute(2, 0, 1);
        Assert.Equal(new long[] { 4, 2, 3 }, p.Shape);
        var pv = p.Contiguous().ToArray<float>();
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++)
                    Assert.Equal(i * 12 + j * 4 + k, pv[(k * 2 + i) * 3 + j]);
        Assert.Equal(pv, p.ToArray<float>()); // reading a non-contiguous view gives the same row-major order
        Equal(p.Contiguous().View(24).Narrow(0, 0, 4), [4], [0, 4, 8, 12]);
    }

    [Fact]
    public void FlipAndRot90()
    {
        using var s = Torch.NewScope();
        var a = F([1, 2, 3, 4, 5, 6], 2, 3);
        Equal(a.Flip(1), [2, 3], [3, 2, 1, 6, 5, 4]);
        Equal(a.Flip(0), [2, 3], [4, 5, 6, 1, 2, 3]);
        Equal(a.Flip(0, 1), [2, 3], [6, 5, 4, 3, 2, 1]);
        var b = F([1, 2, 3, 4], 2, 2);
        Equal(b.Rot90(1), [2, 2], [2, 4, 1, 3]);
        Equal(b.Rot90(2), [2, 2], [4, 3, 2, 1]);
        Equal(b.Rot90(3), [2, 2], [3, 1, 4, 2]);
        Equal(b.Rot90(-1), [2, 2], [3, 1, 4, 2]);
        Equal(b.Rot90(4), [2, 2], [1, 2, 3, 4]);
        Equal(a.Rot90(1), [3, 2], [3, 6, 2, 5, 1, 4]);
        Equal(a.Reshape(1, 2, 3).Rot90(1, 1, 2), [1, 3, 2], [3, 6, 2, 5, 1, 4]);
    }

    [Fact]
    public void MatMul()
    {
        using var s = Torch.NewScope();
        var a = F([1, 2, 3, 4], 2, 2);
        var b = F([5, 6, 7, 8], 2, 2);
        Equal(a.MatMul(b), [2, 2], [19, 22, 43, 50]);
        Equal(b.MatMul(a), [2, 2], [23, 34, 31, 46]);
        Equal(a.MatMul(F([1, 1], 2)), [2], [3, 7]);
        var batch = Tensor.Stack([a, b], 0);
        Equal(batch.MatMul(F([1, 0, 0, 2], 2, 2)), [2, 2, 2], [1, 4, 3, 8, 5, 12, 7, 16]);
        Equal(F([1, 2, 3], 1, 3).MatMul(F([4, 5, 6], 3, 1)), [1, 1], [32]);
    }

    [Fact]
    public void TensorDot()
    {
        using var s = Torch.NewScope();
        var a = F([1, 2, 3, 4, 5, 6], 2, 3);
        var b = F([1, 2, 3, 4, 5, 6], 3, 2);
        Equal(a.TensorDot(b, [1], [0]), [2, 2], [22, 28, 49, 64]);
        Equal(a.TensorDot(a, [0, 1], [0, 1]), [], [91]);
        Equal(a.TensorDot(a, [0], [0]), [3, 3], [17, 22, 27, 22, 29, 36, 27, 36, 45]);
        var x = RandD([2, 3, 4], seed: 21);
        var y = RandD([4, 3, 5], seed: 22);
        var xv = x.ToArray<double>();
        var yv = y.ToArray<double>();
        var expected = new double[2 * 5];
        for (int i = 0; i < 2; i++)
            for (int m = 0; m < 5; m++)
                for (int j = 0; j < 3; j++)
                    for (int k = 0; k < 4; k++)
                        expected[i * 5 + m] += xv[(i * 3 + j) * 4 + k] * yv[(k * 3 + j) * 5 + m];
        Equal(x.TensorDot(y, [1, 2], [1, 0]), [2, 5], expected, 1e-12);
        Assert.Throws<ArgumentException>(() => x.TensorDot(y, [1], [1, 0]));
    }

    // ---- random -------------------------------------------------------------------------------

    [Fact]
    public void RandomDrawsAreReproducibleWithASeededGenerator()
    {
        using var s = Torch.NewScope();
        float[] Draw(ulong seed, int kind)
        {
            using var g = new Generator(seed);
            var t = kind switch
            {
                0 => Tensor.Randn([1000], g),
                1 => Tensor.Rand([1000], g),
                _ => Tensor.Uniform([1000], -3, 5, g),
            };
            return t.ToArray<float>();
        }
        for (int kind = 0; kind < 3; kind++)
        {
            Assert.Equal(Draw(42, kind), Draw(42, kind));
            Assert.NotEqual(Draw(42, kind), Draw(43, kind));
        }
        var rand = Draw(1, 1);
        Assert.All(rand, v => Assert.True(v >= 0 && v < 1));
        var uni = Draw(1, 2);
        Assert.All(uni, v => Assert.InRange(v, -3f, 5f));
        Assert.True(uni.Min() < -2.5 && uni.Max() > 4.5);
        var n = Draw(1, 0);
        Assert.InRange(n.Average(), -0.15, 0.15);
        Assert.InRange(Math.Sqrt(n.Select(v => (double)v * v).Average()), 0.9, 1.1);
        using (var g = new Generator(5))
            Assert.Equal(DType.Float64, Tensor.Randn([3], g, DType.Float64).DType);
        using (var g = new Generator(5))
        {
            var first = Tensor.Rand([5], g).ToArray<float>();
            var second = Tensor.Rand([5], g).ToArray<float>();
            Assert.NotEqual(first, second); // the generator advances
        }
    }

    [Fact]
    public void GeneratorStateReproducesTheStream()
    {
        using var s = Torch.NewScope();
        using var g = new Generator(123);
        Assert.Equal(123UL, g.Seed);
        Tensor.Randn([17], g); // advance a little
        var state = g.GetState();
        Assert.NotEmpty(state);
        var a = Tensor.Randn([100], g).ToArray<float>();
        var a2 = Tensor.Rand([10], g).ToArray<float>();
        g.SetState(state);
        Assert.Equal(a, Tensor.Randn([100], g).ToArray<float>());
        Assert.Equal(a2, Tensor.Rand([10], g).ToArray<float>());
        using var other = new Generator(999);
        other.SetState(state);
        Assert.Equal(a, Tensor.Randn([100], other).ToArray<float>());
        g.Dispose();
        Assert.Throws<ObjectDisposedException>(() => g.GetState());
    }

    [Fact]
    public void GumbelSoftmaxSoftRowsSumToOne()
    {
        using var s = Torch.NewScope();
        using var g = new Generator(3);
        var logits = RandD([5, 7], -2, 2).To(DType.Float32);
        var y = Functional.GumbelSoftmax(logits, tau: 0.5, generator: g);
        Assert.Equal(new long[] { 5, 7 }, y.Shape);
        Assert.All(y.ToArray<float>(), v => Assert.InRange(v, 0f, 1f));
        Close(Enumerable.Repeat(1.0, 5).ToArray(), Values(y.Sum([1])), 1e-6);
    }

    [Fact]
    public void GumbelSoftmaxHardIsOneHotPerRow()
    {
        using var s = Torch.NewScope();
        using var g = new Generator(4);
        var logits = RandD([6, 5], -2, 2).To(DType.Float32).RequiresGrad_();
        var y = Functional.GumbelSoftmax(logits, hard: true, generator: g);
        var v = y.ToArray<float>();
        for (int r = 0; r < 6; r++)
        {
            var row = v.Skip(r * 5).Take(5).ToArray();
            Assert.Equal(1, row.Count(x => x == 1f));
            Assert.Equal(4, row.Count(x => x == 0f));
        }
        // straight-through: the gradient is the soft sample's, not zero
        (y * Tensor.Arange(0, 5)).Sum().Backward();
        var grad = logits.Grad!.ToArray<float>();
        Assert.Contains(grad, x => x != 0);
    }

    [Fact]
    public void GumbelSoftmaxHardAlongAnInnerDimension()
    {
        using var s = Torch.NewScope();
        using var g = new Generator(6);
        // [A, B, C] = [4, 3, 2], one-hot along dim 0 and along dim 1
        var logits = RandD([4, 3, 2], -2, 2).To(DType.Float32);
        foreach (var dim in new long[] { 0, 1, -3, -2 })
        {
            var y = Functional.GumbelSoftmax(logits, hard: true, dim: dim, generator: g);
            Assert.Equal(logits.Shape, y.Shape);
            var sums = y.Sum([dim]).ToArray<float>();
            Assert.All(sums, v => Assert.Equal(1f, v));
            Assert.All(y.ToArray<float>(), v => Assert.True(v == 0f || v == 1f));
        }
        var soft = Functional.GumbelSoftmax(logits, dim: 0, generator: g);
        Close(Enumerable.Repeat(1.0, 6).ToArray(), Values(soft.Sum([0])), 1e-6);
    }

    [Fact]
    public void GumbelSoftmaxIsReproducibleWithASeed()
    {
        using var s = Torch.NewScope();
        var logits = F([0.1f, 0.7f, -0.3f, 0.2f, 1.5f, 0.0f], 2, 3);
        float[] Draw(ulong seed, bool hard)
        {
            using var g = new Generator(seed);
            return Functional.GumbelSoftmax(logits, 0.7, hard, generator: g).ToArray<float>();
        }
        Assert.Equal(Draw(10, false), Draw(10, false));
        Assert.Equal(Draw(10, true), Draw(10, true));
        Assert.NotEqual(Draw(10, false), Draw(11, false));
    }

    [Fact]
    public void GumbelSoftmaxFrequenciesApproachSoftmax()
    {
        using var s = Torch.NewScope();
        using var g = new Generator(77);
        double[] l = [0.5, 1.0, -1.0, 0.0];
        var logits = F(Fl(l), 1, 4).Expand(40000, 4).Contiguous();
        var y = Functional.GumbelSoftmax(logits, tau: 1, hard: true, generator: g);
        var freq = Values(y.Mean([0]));
        double z = l.Sum(Math.Exp);
        Close(l.Select(v => Math.Exp(v) / z).ToArray(), freq, 0.015, "empirical frequencies");
        // the soft samples average to... something with the same ordering as the logits
        var soft = Values(Functional.GumbelSoftmax(logits, tau: 1, generator: g).Mean([0]));
        Assert.True(soft[1] > soft[0] && soft[0] > soft[3] && soft[3] > soft[2]);
    }

    [Fact]
    public void GumbelSoftmaxNeverProducesNaN()
    {
        // Rand draws exactly 0 with probability 2^-24 per float32 element; that must not become an
        // infinite Gumbel sample (and a NaN softmax). Find a chunk of the stream that holds a 0, then
        // replay that chunk through GumbelSoftmax.
        using var g = new Generator(0);
        const int chunk = 1 << 20;
        byte[]? before = null;
        for (int i = 0; i < 1000 && before is null; i++)
        {
            using var s = Torch.NewScope();
            var state = g.GetState();
            if (Tensor.Rand([chunk], g).Min().Item() == 0) before = state;
        }
        Assert.NotNull(before); // (15/16)^1000: the case does occur
        using (var s = Torch.NewScope())
        {
            g.SetState(before!);
            Assert.Equal(0, Tensor.Rand([chunk / 2, 2], g).Min().Item());
            foreach (var hard in new[] { false, true })
            {
                g.SetState(before!);
                var y = Functional.GumbelSoftmax(Tensor.Zeros([chunk / 2, 2]), hard: hard, generator: g);
                Assert.Equal(1, y.IsFinite().To(DType.Float32).Min().Item());
                Assert.Equal(chunk / 2, y.Sum().Item(), 1e-1);
            }
        }
    }

    // ---- metadata and data transfer ---------------------------------------------------------------

    [Fact]
    public void ToStringShowsTheShape()
    {
        using var s = Torch.NewScope();
        Assert.Equal("Tensor[2, 3] Float32 cpu", Tensor.Zeros([2, 3]).ToString());
        Assert.Equal("Tensor[] Float64 cpu", Tensor.Scalar(1, DType.Float64).ToString());
        Assert.Equal("Tensor[4] Float32 cpu requires_grad", Tensor.Zeros([4]).RequiresGrad_().ToString());
        var t = Tensor.Zeros([1]);
        t.Dispose();
        Assert.Equal("Tensor(disposed)", t.ToString());
    }

    [Fact]
    public void FromAndToArrayForEachElementType()
    {
        using var s = Torch.NewScope();
        var f = Tensor.From<float>([1.5f, -2, 3], [3]);
        Assert.Equal(DType.Float32, f.DType);
        Assert.Equal(new[] { 1.5f, -2, 3 }, f.ToArray<float>());
        var d = Tensor.From<double>([Math.PI, -1e300], [2, 1]);
        Assert.Equal(DType.Float64, d.DType);
        Assert.Equal(new long[] { 2, 1 }, d.Shape);
        Assert.Equal(new[] { Math.PI, -1e300 }, d.ToArray<double>());
        var b = Tensor.From<byte>([0, 127, 255], [3]);
        Assert.Equal(DType.UInt8, b.DType);
        Assert.Equal(new byte[] { 0, 127, 255 }, b.ToArray<byte>());
        Equal(b.To(DType.Float32), [3], [0, 127, 255]);
        var h = Tensor.From<Half>([(Half)1.5, (Half)(-0.25), Half.MaxValue], [3]);
        Assert.Equal(DType.Float16, h.DType);
        Assert.Equal(new[] { (Half)1.5, (Half)(-0.25), Half.MaxValue }, h.ToArray<Half>());
        Equal(h.To(DType.Float32), [3], [1.5, -0.25, 65504]);
        Assert.Equal(new[] { (Half)0.1f }, Tensor.From<float>([0.1f], [1]).To(DType.Float16).ToArray<Half>());
        Assert.Equal(new long[] { 7, -1 }, Tensor.From<long>([7, -1], [2]).ToArray<long>());
        Assert.Equal(new[] { 7, -1 }, Tensor.From<int>([7, -1], [2]).ToArray<int>());
        Assert.Throws<InvalidOperationException>(() => f.ToArray<double>());
        Assert.Throws<ArgumentException>(() => Tensor.From<float>([1, 2, 3], [2, 2]));
        Assert.Equal(new long[] { 0 }, Tensor.From<float>([], [0]).Shape);
    }

    [Fact]
    public void FromBytesAndToBytes()
    {
        using var s = Torch.NewScope();
        var t = Tensor.FromBytes([0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0], [2], DType.Float32);
        Assert.Equal(new[] { 1f, -2f }, t.ToArray<float>());
        Assert.Equal(new byte[] { 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0 }, t.ToBytes());
        // bfloat16 1.0 = 0x3F80, -2.0 = 0xC000
        var bf = Tensor.FromBytes([0x80, 0x3F, 0x00, 0xC0], [2, 1], DType.BFloat16);
        Assert.Equal(DType.BFloat16, bf.DType);
        Equal(bf.To(DType.Float32), [2, 1], [1, -2]);
        Assert.Equal(new byte[] { 0x80, 0x3F, 0x00, 0xC0 }, Tensor.From<float>([1, -2], [2]).To(DType.BFloat16).ToBytes());
        // half 1.0 = 0x3C00
        Assert.Equal(new byte[] { 0x00, 0x3C }, Tensor.Ones([1], DType.Float16).ToBytes());
        var d = Tensor.From<double>([0.1, 2], [2]);
        Assert.Equal(d.ToArray<double>(), Tensor.FromBytes(d.ToBytes(), [2], DType.Float64).ToArray<double>());
        Assert.Throws<ArgumentException>(() => Tensor.FromBytes([1, 2, 3], [1], DType.Float32));
        // ToBytes of a non-contiguous view is the row-major copy
        var m = F([1, 2, 3, 4], 2, 2).Transpose(0, 1);
        Assert.Equal(Tensor.From<float>([1, 3, 2, 4], [4]).ToBytes(), m.ToBytes());
    }

    [Fact]
    public void CreationHelpers()
    {
        using var s = Torch.NewScope();
        Equal(Tensor.Full([2, 2], 7), [2, 2], [7, 7, 7, 7]);
        Equal(Tensor.Ones([3], DType.Float64), [3], [1, 1, 1]);
        Equal(Tensor.Zeros([2]), [2], [0, 0]);
        Equal(Tensor.Arange(0, 1, 0.25), [4], [0, 0.25, 0.5, 0.75]);
        Equal(Tensor.Arange(0, 3, 1, DType.Int64), [3], [0, 1, 2]);
        Assert.Equal(2.5, Tensor.Scalar(2.5).Item());
        Assert.Equal(new long[] { 2, 3 }, Tensor.Empty([2, 3]).Shape);
        var t = Tensor.Zeros([2, 3, 4]);
        Assert.Equal(3, t.Dim);
        Assert.Equal(24, t.Numel);
        Assert.Equal(4, t.Size(-1));
        Assert.Equal(3, t.Size(1));
        Assert.Equal(Device.Cpu, t.Device);
        Assert.Throws<TorchException>(() => t.Item());
    }
}

/// <summary>Direct-sum reference implementations in double precision.</summary>
internal static class Ref
{
    public static double[] Conv2d(double[] x, long[] xs, double[] w, long[] ws, double[]? b, int stride, int pad, int dil, int groups, out long[] shape)
    {
        long n = xs[0], cin = xs[1], h = xs[2], wd = xs[3];
        long cout = ws[0], cig = ws[1], kh = ws[2], kw = ws[3];
        long coutg = cout / groups;
        long oh = (h + 2 * pad - dil * (kh - 1) - 1) / stride + 1;
        long ow = (wd + 2 * pad - dil * (kw - 1) - 1) / stride + 1;
        shape = [n, cout, oh, ow];
        var y = new double[n * cout * oh * ow];
        for (long b0 = 0; b0 < n; b0++)
            for (long o = 0; o < cout; o++)
            {
                long g = o / coutg;
                for (long yy = 0; yy < oh; yy++)
                    for (long xx = 0; xx < ow; xx++)
                    {
                        double acc = b?[o] ?? 0;
                        for (long c = 0; c < cig; c++)
                            for (long ky = 0; ky < kh; ky++)
                                for (long kx = 0; kx < kw; kx++)
                                {
                                    long iy = yy * stride - pad + ky * dil, ix = xx * stride - pad + kx * dil;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    acc += x[((b0 * cin + g * cig + c) * h + iy) * wd + ix] * w[((o * cig + c) * kh + ky) * kw + kx];
                                }
                        y[((b0 * cout + o) * oh + yy) * ow + xx] = acc;
                    }
            }
        return y;
    }
}
