using MLNet.Rescale.Tensors.NN;

namespace MLNet.Rescale.Tensors.Optim;

/// <summary>Multiplies the learning rate by gamma at each milestone (torch.optim.lr_scheduler.MultiStepLR), with an optional linear warm-up.</summary>
public sealed class MultiStepLR
{
    private readonly Adam optimizer;
    private readonly long[] milestones;

    /// <summary>Creates the schedule; <paramref name="warmup"/> iterations ramp the rate linearly from base/warmup.</summary>
    public MultiStepLR(Adam optimizer, IEnumerable<long> milestones, double gamma = 0.5, long warmup = 0)
    {
        this.optimizer = optimizer;
        this.milestones = milestones.OrderBy(m => m).ToArray();
        Gamma = gamma;
        Warmup = warmup;
        BaseLearningRate = optimizer.Options.LearningRate;
        optimizer.LearningRate = RateAt(0);
    }

    /// <summary>The rate before any decay.</summary>
    public double BaseLearningRate { get; }
    /// <summary>Decay factor per milestone.</summary>
    public double Gamma { get; }
    /// <summary>Warm-up iterations.</summary>
    public long Warmup { get; }
    /// <summary>Scheduler steps taken.</summary>
    public long Iteration { get; private set; }

    /// <summary>The rate the schedule gives after <paramref name="iteration"/> steps.</summary>
    public double RateAt(long iteration)
    {
        double lr = BaseLearningRate * Math.Pow(Gamma, milestones.Count(m => m <= iteration));
        return Warmup > 0 && iteration < Warmup ? lr * (iteration + 1) / Warmup : lr;
    }

    /// <summary>Advances one iteration and sets the optimizer's rate.</summary>
    public void Step() => optimizer.LearningRate = RateAt(++Iteration);

    /// <summary>Jumps to an iteration (resume).</summary>
    public void Restore(long iteration)
    {
        Iteration = iteration;
        optimizer.LearningRate = RateAt(iteration);
    }
}

/// <summary>Gradient utilities.</summary>
public static class Gradients
{
    /// <summary>Scales gradients so their joint L2 norm is at most <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public static unsafe double ClipNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        var tensors = parameters.Select(p => p.Value).ToArray();
        using var h = new Tensor.HandleArray(tensors);
        double total;
        fixed (IntPtr* p = h.Pointers)
            Native.Check(Native.rs_clip_grad_norm(p, tensors.Length, maxNorm, out total));
        return total;
    }
}
