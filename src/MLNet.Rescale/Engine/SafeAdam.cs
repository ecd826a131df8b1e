using TorchSharp;
using TorchSharp.Modules;
using static MLNet.Rescale.Engine.Scalars;
using static TorchSharp.torch;

namespace MLNet.Rescale.Engine;

/// <summary>
/// TorchSharp's <see cref="Adam"/> (same options, state, <c>state_dict</c>, learning-rate control) with its update
/// written so that every number it passes to libtorch is a held <see cref="Scalar"/>. TorchSharp 0.107's own
/// <c>step</c> converts <c>1 − β</c>, the bias corrections and the step size to temporary Scalars that a garbage
/// collection on another thread can free while libtorch reads them (see <see cref="Scalars"/>). The arithmetic is
/// torch.optim.Adam's, operation for operation as TorchSharp computes it, so the two give identical parameters
/// (OptimTests). Plain Adam only: AMSGrad and maximize are refused.
/// </summary>
internal sealed class SafeAdam : Adam
{
    /// <summary>Adam over <paramref name="parameters"/> (torch.optim.Adam's defaults).</summary>
    public SafeAdam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0)
        : base(parameters, lr, beta1, beta2, eps, weight_decay)
    {
    }

    /// <inheritdoc/>
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(Update, closure);

    private void Update(ParamGroup group)
    {
        var o = (Options)group.Options;
        if (o.amsgrad == true || o.maximize == true)
            throw new NotSupportedException($"{nameof(SafeAdam)} implements plain Adam; use TorchSharp's Adam for AMSGrad or maximize");
        double beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, decay = o.weight_decay!.Value, eps = o.eps!.Value;
        double lr = o.LearningRate!.Value;
        foreach (var param in group.Parameters)
        {
            var grad = param.grad;
            if (grad is null) continue;
            var state = (State)_state[param.Handle];
            state.step += 1;
            // m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε), g with L2 decay.
            if (decay != 0) grad = grad.add(param, S(decay));
            state.exp_avg.mul_(S(beta1)).add_(grad, S(1 - beta1));
            state.exp_avg_sq.mul_(S(beta2)).addcmul_(grad, grad.conj(), S(1 - beta2));
            using var rootCorrection = Owned(Math.Sqrt(1 - Math.Pow(beta2, state.step)));
            using var stepSize = Owned(-(lr / (1 - Math.Pow(beta1, state.step))));
            var denominator = state.exp_avg_sq.sqrt().div(rootCorrection).add_(S(eps), S(1));
            param.addcdiv_(state.exp_avg, denominator, stepSize);
        }
    }
}
