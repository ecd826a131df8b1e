using TorchSharp;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

namespace MLNet.Rescale.Engine;

/// <summary>Loading named tensors into TorchSharp modules with errors a user can act on.</summary>
internal static class StateDicts
{
    /// <summary>
    /// Copies tensors in by name (every parameter and buffer of <paramref name="module"/>, as <c>state_dict()</c> names
    /// them). Missing, unexpected or wrongly shaped entries are reported together in one
    /// <see cref="InvalidDataException"/> that lists the names, and nothing is copied unless everything matches.
    /// </summary>
    public static void LoadStrict(nn.Module module, IReadOnlyDictionary<string, Tensor> state, string source = "state dict")
    {
        var own = module.state_dict();
        var problems = new List<string>();
        var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
        var extra = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
        if (missing.Count > 0) problems.Add($"missing {missing.Count}: {Summarize(missing)}");
        if (extra.Count > 0) problems.Add($"unexpected {extra.Count}: {Summarize(extra)}");
        foreach (var (name, p) in own)
            if (state.TryGetValue(name, out var t) && !t.shape.SequenceEqual(p.shape))
                problems.Add($"{name} has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", p.shape)}]");
        if (problems.Count > 0)
            throw new InvalidDataException($"{source}: tensors do not fit {module.GetType().Name}: {string.Join("; ", problems)}");
        Copy(own, state, own.Keys);
    }

    /// <summary>
    /// Copies in the entries whose name and shape match one of the module's tensors and ignores the rest
    /// (warm-starting a larger network from a smaller one); returns the names copied.
    /// </summary>
    public static IReadOnlyList<string> LoadMatching(nn.Module module, IReadOnlyDictionary<string, Tensor> state)
    {
        var own = module.state_dict();
        var names = own.Where(kv => state.TryGetValue(kv.Key, out var t) && t.shape.SequenceEqual(kv.Value.shape)).Select(kv => kv.Key).ToList();
        Copy(own, state, names);
        return names;
    }

    private static void Copy(Dictionary<string, Tensor> own, IReadOnlyDictionary<string, Tensor> state, IEnumerable<string> names)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var name in names) own[name].copy_(state[name]);
    }

    private static string Summarize(List<string> names) =>
        string.Join(", ", names.Take(8)) + (names.Count > 8 ? $", … ({names.Count - 8} more)" : "");
}

/// <summary>Sampling helpers the reference code uses and TorchSharp lacks with a generator.</summary>
internal static class Sampling
{
    /// <summary>
    /// Gumbel-softmax over <paramref name="dim"/> with an explicit generator (TorchSharp's takes none); with
    /// <paramref name="hard"/> the forward value is one-hot and the gradient the soft sample's.
    /// </summary>
    public static Tensor GumbelSoftmax(Tensor logits, double tau = 1, bool hard = false, long dim = -1, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        // −log(Exponential(1)) is Gumbel(0, 1); the exponential is drawn as −log(U) with U in [0, 1): never 0 (U < 1),
        // so no sample is +∞; U = 0 gives a −∞ sample, which softmax maps to 0.
        var u = rand(logits.shape, logits.dtype, logits.device, generator: generator);
        var gumbel = -(-u.log()).log();
        var soft = (logits.Plus(gumbel) / S(tau)).softmax(dim);
        if (!hard) return soft.MoveToOuterDisposeScope();
        long d = dim < 0 ? dim + logits.dim() : dim;
        var index = soft.argmax(d, keepdim: true);
        var oneHot = zeros_like(soft).scatter_(d, index, ones_like(index, soft.dtype));
        return StraightThrough(soft, oneHot).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The straight-through idiom <c>x + (y − x).detach()</c>: the forward value of <paramref name="y"/> with the
    /// gradient of <paramref name="x"/> (quantization and hard sampling).
    /// </summary>
    public static Tensor StraightThrough(Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        return x.Plus((y - x).detach()).MoveToOuterDisposeScope();
    }

    /// <summary>Xavier-normal initialization drawn from <paramref name="generator"/> (TorchSharp's takes none).</summary>
    public static void XavierNormal(Tensor weight, double gain = 1, Generator? generator = null)
    {
        long receptive = 1;
        for (int i = 2; i < weight.dim(); i++) receptive *= weight.shape[i];
        long fanIn = weight.shape[1] * receptive, fanOut = weight.shape[0] * receptive;
        using var noGrad = no_grad();
        weight.normal_(0, gain * Math.Sqrt(2.0 / (fanIn + fanOut)), generator);
    }
}
