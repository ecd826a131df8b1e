namespace MLNet.Rescale.Tensors.NN;

/// <summary>Weight initializers (torch.nn.init), drawing from an optional seeded generator.</summary>
public static class Init
{
    /// <summary>fan_in and fan_out of a weight [out, in, k…] as PyTorch computes them.</summary>
    public static (long FanIn, long FanOut) Fans(long[] shape)
    {
        if (shape.Length < 2) throw new ArgumentException("fan in/out need at least 2 dimensions");
        long receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>N(0, gain²·2/(fan_in + fan_out)).</summary>
    public static void XavierNormal(Parameter p, double gain = 1, Generator? g = null)
    {
        var (fi, fo) = Fans(p.Shape);
        Normal(p, 0, gain * Math.Sqrt(2.0 / (fi + fo)), g);
    }

    /// <summary>U(−b, b) with b = gain·√(3/fan_in), gain = √(2/(1+a²)): PyTorch's kaiming_uniform_ (fan_in, leaky_relu).</summary>
    public static void KaimingUniform(Parameter p, double a = 0, Generator? g = null)
    {
        var (fi, _) = Fans(p.Shape);
        double bound = Math.Sqrt(2.0 / (1 + a * a)) * Math.Sqrt(3.0 / fi);
        Uniform(p, -bound, bound, g);
    }

    /// <summary>N(0, (gain/√fan_in)²), gain = √(2/(1+a²)): PyTorch's kaiming_normal_ (fan_in).</summary>
    public static void KaimingNormal(Parameter p, double a = 0, Generator? g = null)
    {
        var (fi, _) = Fans(p.Shape);
        Normal(p, 0, Math.Sqrt(2.0 / (1 + a * a)) / Math.Sqrt(fi), g);
    }

    /// <summary>N(mean, std²).</summary>
    public static void Normal(Parameter p, double mean, double std, Generator? g = null)
    {
        using var scope = Torch.NewScope();
        p.Set(Tensor.Randn(p.Shape, g, p.Value.DType, p.Value.Device) * std + mean);
    }

    /// <summary>U(low, high).</summary>
    public static void Uniform(Parameter p, double low, double high, Generator? g = null)
    {
        using var scope = Torch.NewScope();
        p.Set(Tensor.Uniform(p.Shape, low, high, g, p.Value.DType, p.Value.Device));
    }

    /// <summary>Multiplies in place (used for the papers' "xavier × 0.1").</summary>
    public static void Scale(Parameter p, double factor)
    {
        using var _ = Torch.NoGrad();
        p.Value.MulInPlace(factor);
    }

    /// <summary>Fills with a constant.</summary>
    public static void Constant(Parameter p, double value)
    {
        using var _ = Torch.NoGrad();
        p.Value.FillInPlace(value);
    }
}
