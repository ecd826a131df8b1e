using TorchSharp;

namespace MLNet.Rescale.Training;

/// <summary>
/// The reference's learning-rate schedule on a TorchSharp optimizer: the rate is multiplied by gamma at each
/// milestone (the arithmetic of <c>torch.optim.lr_scheduler.MultiStepLR</c>), after an optional linear warm-up.
/// A closed form of the iteration rather than TorchSharp's stateful schedulers, so that a resumed run lands on exactly
/// the rate it left with (<see cref="Restore"/>) and a warm-up composes with the milestones.
/// </summary>
public sealed class LearningRateSchedule
{
    private readonly torch.optim.Optimizer optimizer;
    private readonly long[] milestones;

    /// <summary>Creates the schedule from <paramref name="baseRate"/> and sets the optimizer's first rate.</summary>
    public LearningRateSchedule(torch.optim.Optimizer optimizer, double baseRate, IEnumerable<long> milestones, double gamma = 0.5, long warmup = 0)
    {
        this.optimizer = optimizer;
        this.milestones = milestones.OrderBy(m => m).ToArray();
        BaseLearningRate = baseRate;
        Gamma = gamma;
        Warmup = warmup;
        Apply(RateAt(0));
    }

    /// <summary>The rate before any decay.</summary>
    public double BaseLearningRate { get; }
    /// <summary>Decay factor per milestone.</summary>
    public double Gamma { get; }
    /// <summary>Warm-up iterations.</summary>
    public long Warmup { get; }
    /// <summary>Scheduler steps taken.</summary>
    public long Iteration { get; private set; }

    /// <summary>The rate the optimizer uses now.</summary>
    public double LearningRate => optimizer.ParamGroups.First().LearningRate;

    /// <summary>The rate at an iteration: base·gamma^(milestones passed), ramped by (i+1)/warmup during the warm-up.</summary>
    public double RateAt(long iteration)
    {
        double lr = BaseLearningRate * Math.Pow(Gamma, milestones.Count(m => m <= iteration));
        return Warmup > 0 && iteration < Warmup ? lr * (iteration + 1) / Warmup : lr;
    }

    /// <summary>Advances one iteration.</summary>
    public void Step() => Apply(RateAt(++Iteration));

    /// <summary>Continues from <paramref name="iteration"/> (a resumed run).</summary>
    public void Restore(long iteration)
    {
        Iteration = iteration;
        Apply(RateAt(iteration));
    }

    private void Apply(double rate)
    {
        foreach (var group in optimizer.ParamGroups) group.LearningRate = rate;
    }
}
