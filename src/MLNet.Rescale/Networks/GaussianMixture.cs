using MLNet.Rescale.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

namespace MLNet.Rescale.Networks;

/// <summary>
/// SAIN's learned distribution of the latent z: an isotropic mixture of K one-dimensional Gaussians shared by every
/// element, stored as the reference's <c>gmm_para</c> [3, K] = (mixture logits, means, log-variances).
/// </summary>
public sealed class GaussianMixture : nn.Module
{
    /// <summary>Bound of the log-variances before σ = exp(½·logvar), as the reference.</summary>
    public const double LogVarianceBound = 20;

    // Named for TorchSharp: Module.to(...) replaces a parameter in the field whose component name matches.
    [TorchSharp.Utils.ComponentName(Name = "gmm_para")]
    private readonly Parameter gmmPara;

    /// <summary>Creates a K-component mixture near N(0, 1) (every parameter 1e-4·N(0, 1), as the reference).</summary>
    public GaussianMixture(int components = 5, Generator? generator = null) : base(TorchRuntime.Started(nameof(GaussianMixture)))
    {
        if (components < 1) throw new ArgumentOutOfRangeException(nameof(components), "a mixture needs at least one component");
        using (var scope = NewDisposeScope())
            gmmPara = new Parameter((randn([3, components], generator: generator) * S(1e-4)).DetachFromDisposeScope());
        register_parameter("gmm_para", gmmPara);
    }

    /// <summary>
    /// Nothing to do: submodules and parameters are registered explicitly under the reference names, and TorchSharp's
    /// automatic registration by C# field name would add them a second time under other names.
    /// </summary>
    protected override void RegisterComponents() { }

    /// <summary>Number of components K.</summary>
    public int Components => (int)gmmPara.shape[1];

    /// <summary>The [3, K] parameter: logits, means, log-variances.</summary>
    public Parameter GmmPara => gmmPara;

    /// <summary>The mixture's expectation <c>Σₖ softmax(logits)ₖ·μₖ</c>, a scalar tensor: the deterministic serving latent.</summary>
    public Tensor Expectation(Device? device = null)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Tensor p = gmmPara;
        if (device is { } d && p.device != d) p = p.to(d);
        long k = Components;
        var weights = p.narrow(0, 0, 1).reshape(k).softmax(0);
        return (weights * p.narrow(0, 1, 1).reshape(k)).sum().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Draws z of <paramref name="shape"/>: per element a component k picked by hard Gumbel-softmax over the logits
    /// (one-hot forward, soft gradient), then z = μₖ + σₖ·ε·<paramref name="temperature"/> with ε ~ N(0, 1), so the
    /// gradient reaches logits, means and log-variances.
    /// </summary>
    public Tensor Sample(long[] shape, Generator? generator = null, double temperature = 1.0, Device? device = null)
    {
        using var scope = NewDisposeScope();
        Tensor p = gmmPara;
        if (device is { } d && p.device != d) p = p.to(d);
        long k = Components;
        var logits = p.narrow(0, 0, 1).reshape(k);
        var means = p.narrow(0, 1, 1).reshape(k);
        var sigmas = (p.narrow(0, 2, 1).reshape(k).clamp(S(-LogVarianceBound), S(LogVarianceBound)) * S(0.5)).exp();
        var expanded = new long[shape.Length + 1];
        shape.CopyTo(expanded, 0);
        expanded[^1] = k;
        var pick = Sampling.GumbelSoftmax(logits.expand(expanded), tau: 1, hard: true, dim: -1, generator: generator);
        var mu = (pick * means).sum(-1);
        var sigma = (pick * sigmas).sum(-1);
        var eps = randn(shape, p.dtype, p.device, generator: generator);
        if (temperature != 1.0) eps = eps * S(temperature);
        return mu.Plus(sigma * eps).MoveToOuterDisposeScope();
    }
}
