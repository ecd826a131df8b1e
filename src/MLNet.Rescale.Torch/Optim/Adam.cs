using MLNet.Rescale.Tensors.NN;

namespace MLNet.Rescale.Tensors.Optim;

/// <summary>Hyper-parameters of <see cref="Adam"/>, defaults as torch.optim.Adam.</summary>
public sealed record AdamOptions
{
    /// <summary>Learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>First-moment decay.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>Second-moment decay.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Denominator epsilon.</summary>
    public double Eps { get; init; } = 1e-8;
    /// <summary>L2 penalty added to the gradient (not decoupled, as torch.optim.Adam).</summary>
    public double WeightDecay { get; init; }
}

/// <summary>
/// Adam with torch.optim.Adam's arithmetic. Its moments live in tensors it owns and can be saved and
/// restored through <see cref="State"/> so that a resumed run continues exactly.
/// </summary>
public sealed class Adam : IDisposable
{
    private readonly Parameter[] parameters;
    private readonly Tensor[] expAvg;
    private readonly Tensor[] expAvgSq;

    /// <summary>Creates the optimizer over parameters (those not requiring gradients are skipped).</summary>
    public Adam(IEnumerable<Parameter> parameters, AdamOptions? options = null)
    {
        this.parameters = parameters.Where(p => p.RequiresGrad).ToArray();
        Options = options ?? new AdamOptions();
        LearningRate = Options.LearningRate;
        expAvg = this.parameters.Select(p => Tensor.Zeros(p.Shape, p.Value.DType, p.Value.Device).DetachFromScope()).ToArray();
        expAvgSq = this.parameters.Select(p => Tensor.Zeros(p.Shape, p.Value.DType, p.Value.Device).DetachFromScope()).ToArray();
    }

    /// <summary>The options it was created with.</summary>
    public AdamOptions Options { get; }

    /// <summary>Current learning rate (schedulers change it).</summary>
    public double LearningRate { get; set; }

    /// <summary>Steps taken.</summary>
    public long StepCount { get; private set; }

    /// <summary>The parameters it updates.</summary>
    public IReadOnlyList<Parameter> Parameters => parameters;

    /// <summary>Drops the gradients of every parameter.</summary>
    public void ZeroGrad()
    {
        foreach (var p in parameters) p.Value.ZeroGrad();
    }

    /// <summary>Applies one update from the accumulated gradients.</summary>
    public void Step()
    {
        StepCount++;
        for (int i = 0; i < parameters.Length; i++)
            Native.Check(Native.rs_adam_step(parameters[i].Value.Handle, expAvg[i].Handle, expAvgSq[i].Handle, StepCount,
                LearningRate, Options.Beta1, Options.Beta2, Options.Eps, Options.WeightDecay));
    }

    /// <summary>The moments by index ("exp_avg.3", "exp_avg_sq.3"); the tensors stay owned by the optimizer.</summary>
    public Dictionary<string, Tensor> State()
    {
        var d = new Dictionary<string, Tensor>();
        for (int i = 0; i < parameters.Length; i++)
        {
            d[$"exp_avg.{i}"] = expAvg[i];
            d[$"exp_avg_sq.{i}"] = expAvgSq[i];
        }
        return d;
    }

    /// <summary>Restores the moments, the step count and the learning rate saved from an identical optimizer.</summary>
    public void LoadState(IReadOnlyDictionary<string, Tensor> state, long stepCount, double learningRate)
    {
        using var _ = Torch.NoGrad();
        for (int i = 0; i < parameters.Length; i++)
        {
            expAvg[i].CopyFrom(Get(state, $"exp_avg.{i}", expAvg[i]));
            expAvgSq[i].CopyFrom(Get(state, $"exp_avg_sq.{i}", expAvgSq[i]));
        }
        StepCount = stepCount;
        LearningRate = learningRate;
    }

    private static Tensor Get(IReadOnlyDictionary<string, Tensor> state, string key, Tensor like) =>
        state.TryGetValue(key, out var t) && t.Shape.SequenceEqual(like.Shape)
            ? t
            : throw new InvalidDataException($"optimizer state lacks {key} of shape [{string.Join(", ", like.Shape)}]");

    /// <summary>Frees the moment tensors.</summary>
    public void Dispose()
    {
        foreach (var t in expAvg.Concat(expAvgSq)) t.Dispose();
    }
}
