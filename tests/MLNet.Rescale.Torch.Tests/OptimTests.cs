using MLNet.Rescale.Tensors;
using MLNet.Rescale.Tensors.NN;
using MLNet.Rescale.Tensors.Optim;
using Xunit;
using static MLNet.Rescale.Tensors.Tests.TestUtil;

namespace MLNet.Rescale.Tensors.Tests;

public class OptimTests
{
    /// <summary>Puts exactly <paramref name="g"/> into the parameter's gradient.</summary>
    private static void SetGrad(Parameter p, double[] g)
    {
        using var s = Torch.NewScope();
        p.Value.ZeroGrad();
        (p.Value * Tensor.From<double>(g, p.Shape).To(p.Value.DType)).Sum().Backward();
    }

    [Theory]
    [InlineData(0.0, DType.Float64, 1e-14)]
    [InlineData(0.1, DType.Float64, 1e-14)]
    [InlineData(0.1, DType.Float32, 1e-6)]
    public void AdamMatchesTorchOptimAdamArithmetic(double weightDecay, DType dtype, double tol)
    {
        double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        double[] p = [1.0, -2.0];
        double[] g = [0.5, -0.1];
        using var param = new Parameter(Tensor.From<double>(p, [2]).To(dtype));
        using var adam = new Adam([param], new AdamOptions { LearningRate = lr, WeightDecay = weightDecay });
        double[] m = new double[2], v = new double[2];
        for (int t = 1; t <= 3; t++)
        {
            SetGrad(param, g);
            adam.Step();
            // torch.optim.Adam (single tensor, amsgrad off):
            //   g' = g + wd·p;  m = β1·m + (1−β1)·g';  v = β2·v + (1−β2)·g'²
            //   p −= lr/(1−β1^t) · m / (√v/√(1−β2^t) + eps)
            for (int i = 0; i < 2; i++)
            {
                double gi = g[i] + weightDecay * p[i];
                m[i] = b1 * m[i] + (1 - b1) * gi;
                v[i] = b2 * v[i] + (1 - b2) * gi * gi;
                double bc1 = 1 - Math.Pow(b1, t), bc2 = 1 - Math.Pow(b2, t);
                p[i] -= lr / bc1 * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(bc2) + eps);
            }
            Close(p, Values(param.Value), tol, $"step {t}");
            Assert.Equal(t, adam.StepCount);
        }
        Close(m, Values(adam.State()["exp_avg.0"]), tol);
        Close(v, Values(adam.State()["exp_avg_sq.0"]), tol);
        Assert.True(param.Value.IsLeaf && param.RequiresGrad);
    }

    [Fact]
    public void AdamSkipsParametersWithoutGradients()
    {
        using var a = new Parameter(Tensor.Ones([2]));
        using var frozen = new Parameter(Tensor.Ones([2]), requiresGrad: false);
        using var adam = new Adam([a, frozen]);
        Assert.Single(adam.Parameters);
        adam.Step(); // no gradient yet: nothing changes
        Assert.Equal(new[] { 1f, 1 }, a.Value.ToArray<float>());
    }

    [Fact]
    public void ClipNormScalesToTheMaximumAndReturnsThePreClipNorm()
    {
        using var a = new Parameter(Tensor.Zeros([2], DType.Float64));
        using var b = new Parameter(Tensor.Zeros([1], DType.Float64));
        using var none = new Parameter(Tensor.Zeros([3], DType.Float64));
        SetGrad(a, [3, 4]);
        SetGrad(b, [12]);
        double norm = Gradients.ClipNorm([a, b, none], 6.5);
        Assert.Equal(13, norm, 1e-12);
        double coef = 6.5 / (13 + 1e-6);
        Close([3 * coef, 4 * coef], Values(a.Grad!), 1e-12);
        Close([12 * coef], Values(b.Grad!), 1e-12);
        Assert.Null(none.Grad);
        // below the maximum nothing changes
        double again = Gradients.ClipNorm([a, b], 100);
        Assert.Equal(6.5, again, 1e-5);
        Close([3 * coef, 4 * coef], Values(a.Grad!), 1e-12);
        Assert.Equal(0, Gradients.ClipNorm([none], 1));
    }

    [Fact]
    public void MultiStepLRDecaysAtMilestones()
    {
        using var p = new Parameter(Tensor.Ones([1]));
        using var adam = new Adam([p], new AdamOptions { LearningRate = 0.01 });
        var sched = new MultiStepLR(adam, [5, 3], gamma: 0.1);
        var rates = new List<double> { adam.LearningRate };
        for (int i = 0; i < 7; i++)
        {
            sched.Step();
            rates.Add(adam.LearningRate);
        }
        double[] expected = [0.01, 0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001, 0.0001];
        Close(expected, rates, 1e-12);
        Assert.Equal(7, sched.Iteration);
        sched.Restore(4);
        Assert.Equal(0.001, adam.LearningRate, 1e-15);
        Assert.Equal(0.01, adam.Options.LearningRate);
    }

    [Fact]
    public void WarmupRampsLinearly()
    {
        using var p = new Parameter(Tensor.Ones([1]));
        using var adam = new Adam([p], new AdamOptions { LearningRate = 0.02 });
        var sched = new MultiStepLR(adam, [10], gamma: 0.5, warmup: 4);
        var rates = new List<double> { adam.LearningRate };
        for (int i = 0; i < 11; i++)
        {
            sched.Step();
            rates.Add(adam.LearningRate);
        }
        Close([0.005, 0.01, 0.015, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.01, 0.01], rates, 1e-12);
        var steps = rates.Take(4).Zip(rates.Skip(1).Take(3), (x, y) => y - x).ToArray();
        Assert.All(steps, d => Assert.Equal(0.005, d, 1e-12));
    }

    [Fact]
    public void AdamStateRoundTripContinuesIdentically()
    {
        using var s = Torch.NewScope();
        double[] grad(int t) => [0.3 * t - 0.5, 0.1 / t, -0.7, t];
        using var p1 = new Parameter(Tensor.From<float>([1, 2, 3, 4], [2, 2]));
        using var adam1 = new Adam([p1], new AdamOptions { LearningRate = 0.05, WeightDecay = 0.01 });
        for (int t = 1; t <= 3; t++)
        {
            SetGrad(p1, grad(t));
            adam1.Step();
        }
        adam1.LearningRate = 0.025;

        // a second optimizer over a copy of the parameter, restored from the first one's state
        using var p2 = new Parameter(Tensor.Zeros([2, 2]));
        p2.Set(p1.Value);
        using var adam2 = new Adam([p2], new AdamOptions { LearningRate = 0.05, WeightDecay = 0.01 });
        var saved = adam1.State().ToDictionary(kv => kv.Key, kv => kv.Value.Clone());
        adam2.LoadState(saved, adam1.StepCount, adam1.LearningRate);
        Assert.Equal(3, adam2.StepCount);
        Assert.Equal(0.025, adam2.LearningRate);

        // and a third one that was not restored: its next step differs
        using var p3 = new Parameter(Tensor.Zeros([2, 2]));
        p3.Set(p1.Value);
        using var adam3 = new Adam([p3], new AdamOptions { LearningRate = 0.025, WeightDecay = 0.01 });

        for (int t = 4; t <= 5; t++)
        {
            SetGrad(p1, grad(t));
            SetGrad(p2, grad(t));
            SetGrad(p3, grad(t));
            adam1.Step();
            adam2.Step();
            adam3.Step();
            Assert.Equal(p1.Value.ToArray<float>(), p2.Value.ToArray<float>());
            Assert.NotEqual(p1.Value.ToArray<float>(), p3.Value.ToArray<float>());
        }

        var bad = new Dictionary<string, Tensor> { ["exp_avg.0"] = Tensor.Zeros([4]), ["exp_avg_sq.0"] = Tensor.Zeros([2, 2]) };
        var e = Assert.Throws<InvalidDataException>(() => adam2.LoadState(bad, 1, 0.1));
        Assert.Contains("exp_avg.0", e.Message);
        Assert.Throws<InvalidDataException>(() => adam2.LoadState(new Dictionary<string, Tensor>(), 1, 0.1));
    }
}
