namespace MLNet.Rescale.Tensors.NN;

/// <summary>A 2-D convolution layer with PyTorch's default initialization (kaiming-uniform, a = √5).</summary>
public sealed class Conv2d : Module
{
    /// <summary>Creates the layer; weight [out, in/groups, k, k], bias [out].</summary>
    public Conv2d(int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0, int groups = 1, bool bias = true,
        Generator? generator = null, Device? device = null)
    {
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"channels {inChannels}→{outChannels} are not divisible by groups {groups}");
        Stride = stride;
        Padding = padding;
        Groups = groups;
        Weight = RegisterParameter("weight", new Parameter(Tensor.Empty([outChannels, inChannels / groups, kernel, kernel], device: device)));
        Init.KaimingUniform(Weight, Math.Sqrt(5), generator);
        if (bias)
        {
            Bias = RegisterParameter("bias", new Parameter(Tensor.Empty([outChannels], device: device)));
            double bound = 1 / Math.Sqrt(Init.Fans(Weight.Shape).FanIn);
            Init.Uniform(Bias, -bound, bound, generator);
        }
    }

    /// <summary>Kernel weights.</summary>
    public Parameter Weight { get; }
    /// <summary>Bias, or null.</summary>
    public Parameter? Bias { get; }
    /// <summary>Stride.</summary>
    public int Stride { get; }
    /// <summary>Zero padding on each side.</summary>
    public int Padding { get; }
    /// <summary>Channel groups.</summary>
    public int Groups { get; }

    /// <summary>Applies the convolution.</summary>
    public Tensor Forward(Tensor x) => Functional.Conv2d(x, Weight, Bias?.Value, Stride, Padding, 1, Groups);
}
