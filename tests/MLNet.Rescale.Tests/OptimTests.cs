using MLNet.Rescale.Engine;
using MLNet.Rescale.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static MLNet.Rescale.Tests.TorchTestUtil;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>
/// The optimizer the trainer runs (<see cref="SafeAdam"/>: TorchSharp's Adam with held Scalars) against PyTorch's
/// arithmetic and against TorchSharp's own Adam, and our learning-rate schedule
/// (<see cref="LearningRateSchedule"/>: MultiStepLR's decay after a linear warm-up) on it.
/// </summary>
public class OptimTests
{
    /// <summary>Puts exactly <paramref name="g"/> into the parameter's gradient.</summary>
    private static void SetGrad(Parameter p, double[] g)
    {
        using var s = NewDisposeScope();
        p.grad?.zero_();
        (p * tensor(g, p.shape).to(p.dtype)).sum().backward();
    }

    private static Adam.State StateOf(Adam adam, int index) => (Adam.State)adam.state_dict().State[index];

    [Theory]
    [InlineData(0.0, ScalarType.Float64, 1e-14)]
    [InlineData(0.1, ScalarType.Float64, 1e-14)]
    [InlineData(0.1, ScalarType.Float32, 1e-6)]
    public void AdamMatchesTorchOptimAdamArithmetic(double weightDecay, ScalarType dtype, double tol)
    {
        double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        double[] p = [1.0, -2.0];
        double[] g = [0.5, -0.1];
        using var param = new Parameter(tensor(p, [2]).to(dtype));
        using var adam = new SafeAdam([param], lr, b1, b2, eps, weight_decay: weightDecay);
        double[] m = new double[2], v = new double[2];
        for (int t = 1; t <= 3; t++)
        {
            SetGrad(param, g);
            adam.step();
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
            Close(p, Doubles(param), tol, $"step {t}");
            Assert.Equal(t, StateOf(adam, 0).step);
        }
        Close(m, Doubles(StateOf(adam, 0).exp_avg), tol);
        Close(v, Doubles(StateOf(adam, 0).exp_avg_sq), tol);
        Assert.True(param.is_leaf && param.requires_grad);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1e-5)]
    public void SafeAdamGivesTorchSharpsAdamBitForBit(double weightDecay)
    {
        var g = new Generator(7);
        using var start = Uniform([3, 5, 4], -1, 1, g);
        using var p1 = new Parameter(start.clone());
        using var p2 = new Parameter(start.clone());
        using var ours = new SafeAdam([p1], 2e-4, 0.9, 0.999, 1e-8, weight_decay: weightDecay);
        using var theirs = optim.Adam([p2], 2e-4, 0.9, 0.999, 1e-8, weight_decay: weightDecay);
        for (int t = 1; t <= 20; t++)
        {
            var grad = Doubles(Uniform([3, 5, 4], -t, t, g));
            SetGrad(p1, grad);
            SetGrad(p2, grad);
            ours.step();
            theirs.step();
            Assert.Equal(Doubles(p2), Doubles(p1));
            if (t == 10) (ours.ParamGroups.Single().LearningRate, theirs.ParamGroups.Single().LearningRate) = (1e-4, 1e-4);
        }
        Assert.Equal(Doubles(StateOf(theirs, 0).exp_avg), Doubles(StateOf(ours, 0).exp_avg));
        Assert.Equal(Doubles(StateOf(theirs, 0).exp_avg_sq), Doubles(StateOf(ours, 0).exp_avg_sq));
        Assert.NotEqual(Doubles(start), Doubles(p1));
    }

    [Fact]
    public void SafeAdamRefusesWhatItDoesNotImplement()
    {
        using var p = new Parameter(ones(2));
        using var adam = new SafeAdam([p], 0.1);
        ((Adam.Options)((ParamGroup)adam.ParamGroups.Single()).Options).amsgrad = true;
        SetGrad(p, [1, 1]);
        var e = Assert.Throws<NotSupportedException>(() => adam.step());
        Assert.Contains("AMSGrad", e.Message);
    }

    [Fact]
    public void MultiStepDecayAtMilestones()
    {
        using var p = new Parameter(ones(1));
        using var adam = optim.Adam([p], 0.5);
        var schedule = new LearningRateSchedule(adam, 0.01, [5, 3], gamma: 0.1);
        var rates = new List<double> { schedule.LearningRate };
        for (int i = 0; i < 7; i++)
        {
            schedule.Step();
            rates.Add(schedule.LearningRate);
            Assert.Equal(schedule.RateAt(i + 1), adam.ParamGroups.Single().LearningRate);
        }
        double[] expected = [0.01, 0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001, 0.0001];
        Close(expected, rates, 1e-12);
        Assert.Equal(7, schedule.Iteration);
        schedule.Restore(4);
        Assert.Equal(4, schedule.Iteration);
        Assert.Equal(0.001, schedule.LearningRate, 1e-15);
        Assert.Equal(0.01, schedule.BaseLearningRate);
    }

    [Fact]
    public void WarmupRampsLinearlyAndIsTheRateAdamSteps()
    {
        using var p = new Parameter(ones(1));
        using var adam = optim.Adam([p], 0.02);
        var schedule = new LearningRateSchedule(adam, 0.02, [10], gamma: 0.5, warmup: 4);
        var rates = new List<double> { schedule.LearningRate };
        // Adam's first step moves a parameter by lr·g/(|g| + eps·…) ≈ lr: the rate the schedule set is the one used.
        SetGrad(p, [2.0]);
        adam.step();
        Assert.Equal(1 - 0.005, Doubles(p)[0], 6);
        for (int i = 0; i < 11; i++)
        {
            schedule.Step();
            rates.Add(schedule.LearningRate);
        }
        Close([0.005, 0.01, 0.015, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.01, 0.01], rates, 1e-12);
        var steps = rates.Take(4).Zip(rates.Skip(1).Take(3), (x, y) => y - x).ToArray();
        Assert.All(steps, d => Assert.Equal(0.005, d, 1e-12));
    }
}
