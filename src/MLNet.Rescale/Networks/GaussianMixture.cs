using MLNet.Rescale.Tensors;
using MLNet.Rescale.Tensors.NN;

namespace MLNet.Rescale.Networks;

/// <summary>
/// SAIN's learned distribution of the latent z: an isotropic mixture of K one-dimensional Gaussians shared by every
/// element, stored as the reference's <c>gmm_para</c> [3, K] = (mixture logits, means, log-variances).
/// </summary>
public sealed class GaussianMixture : Module
{
    /// <summary>Bound of the log-variances before σ = exp(½·logvar), as the reference.</summary>
    public const double LogVarianceBound = 20;

    private readonly Parameter parameters;

    /// <summary>Creates a K-component mixture near N(0, 1) (every parameter 1e-4·N(0, 1), as the reference).</summary>
    public GaussianMixture(int components = 5, Generator? generator = null)
    {
        if (components < 1) throw new ArgumentOutOfRangeException(nameof(components), "a mixture needs at least one component");
        using var scope = Torch.NewScope();
        parameters = RegisterParameter("gmm_para", new Parameter(Tensor.Randn([3, components], generator) * 1e-4));
    }

    /// <summary>Number of components K.</summary>
    public int Components => (int)parameters.Shape[1];

    /// <summary>The [3, K] parameter: logits, means, log-variances.</summary>
    public Parameter GmmPara => parameters;

    /// <summary>
    /// Draws z of <paramref name="shape"/>: per element a component k picked by hard Gumbel-softmax over the logits
    /// (one-hot forward, soft gradient), then z = μₖ + σₖ·ε·<paramref name="temperature"/> with ε ~ N(0, 1), so the
    /// gradient reaches logits, means and log-variances.
    /// </summary>
    public Tensor Sample(long[] shape, Generator? generator = null, double temperature = 1.0, Device? device = null)
    {
        using var scope = Torch.NewScope();
        var p = parameters.Value;
        if (device is { } d && p.Device != d) p = p.To(d);
        long k = Components;
        var logits = p.Narrow(0, 0, 1).Reshape(k);
        var means = p.Narrow(0, 1, 1).Reshape(k);
        var sigmas = (p.Narrow(0, 2, 1).Reshape(k).Clamp(-LogVarianceBound, LogVarianceBound) * 0.5).Exp();
        var expanded = new long[shape.Length + 1];
        shape.CopyTo(expanded, 0);
        expanded[^1] = k;
        var pick = Functional.GumbelSoftmax(logits.Expand(expanded), tau: 1, hard: true, dim: -1, generator: generator);
        var mu = (pick * means).Sum([-1]);
        var sigma = (pick * sigmas).Sum([-1]);
        var eps = Tensor.Randn(shape, generator, p.DType, p.Device);
        if (temperature != 1.0) eps = eps * temperature;
        return (mu + sigma * eps).MoveToOuterScope();
    }
}
