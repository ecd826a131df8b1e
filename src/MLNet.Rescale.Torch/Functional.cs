using static MLNet.Rescale.Tensors.Native;

namespace MLNet.Rescale.Tensors;

/// <summary>Padding modes of <see cref="Functional.Pad"/>.</summary>
public enum PadMode
{
    /// <summary>A constant value.</summary>
    Constant = 0,
    /// <summary>Mirror without repeating the edge (PyTorch 'reflect').</summary>
    Reflect = 1,
    /// <summary>Repeat the edge.</summary>
    Replicate = 2,
}

/// <summary>Interpolation modes of <see cref="Functional.Interpolate"/>.</summary>
public enum InterpolationMode
{
    /// <summary>Nearest neighbour.</summary>
    Nearest = 0,
    /// <summary>Bilinear.</summary>
    Bilinear = 1,
}

/// <summary>Neural-network functions on NCHW tensors (torch.nn.functional).</summary>
public static class Functional
{
    /// <summary>2-D convolution.</summary>
    public static unsafe Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0,
        int dilation = 1, int groups = 1)
    {
        long* s = stackalloc long[] { stride, stride };
        long* p = stackalloc long[] { padding, padding };
        long* d = stackalloc long[] { dilation, dilation };
        using var b = new Tensor.OptionalHandle(bias);
        return new Tensor(rs_conv2d(input.Handle, weight.Handle, b.Pointer, s, p, d, groups));
    }

    /// <summary>2-D transposed convolution (weight [Cin, Cout/groups, kh, kw]).</summary>
    public static unsafe Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1,
        int padding = 0, int outputPadding = 0, int groups = 1, int dilation = 1)
    {
        long* s = stackalloc long[] { stride, stride };
        long* p = stackalloc long[] { padding, padding };
        long* o = stackalloc long[] { outputPadding, outputPadding };
        long* d = stackalloc long[] { dilation, dilation };
        using var b = new Tensor.OptionalHandle(bias);
        return new Tensor(rs_conv_transpose2d(input.Handle, weight.Handle, b.Pointer, s, p, o, groups, d));
    }

    /// <summary>Average pooling with a square window.</summary>
    public static unsafe Tensor AvgPool2d(Tensor input, int kernel, int? stride = null, int padding = 0)
    {
        long* k = stackalloc long[] { kernel, kernel };
        long* s = stackalloc long[] { stride ?? kernel, stride ?? kernel };
        long* p = stackalloc long[] { padding, padding };
        return new Tensor(rs_avg_pool2d(input.Handle, k, s, p));
    }

    /// <summary>Resizes the last two dimensions to (height, width).</summary>
    public static Tensor Interpolate(Tensor input, long height, long width, InterpolationMode mode = InterpolationMode.Nearest,
        bool alignCorners = false) =>
        new(rs_interpolate(input.Handle, height, width, (int)mode, alignCorners ? 1 : 0));

    /// <summary>[N, C·r², H, W] → [N, C, H·r, W·r].</summary>
    public static Tensor PixelShuffle(Tensor input, int factor) => new(rs_pixel_shuffle(input.Handle, factor, 0));

    /// <summary>[N, C, H·r, W·r] → [N, C·r², H, W].</summary>
    public static Tensor PixelUnshuffle(Tensor input, int factor) => new(rs_pixel_shuffle(input.Handle, factor, 1));

    /// <summary>Pads the last two dimensions by (left, right, top, bottom).</summary>
    public static unsafe Tensor Pad(Tensor input, int left, int right, int top, int bottom, PadMode mode = PadMode.Constant,
        double value = 0)
    {
        long* p = stackalloc long[] { left, right, top, bottom };
        return new Tensor(rs_pad2d(input.Handle, p, (int)mode, value));
    }

    /// <summary>Leaky ReLU.</summary>
    public static Tensor LeakyRelu(Tensor x, double slope = 0.01) => x.LeakyRelu(slope);

    /// <summary>
    /// Gumbel-softmax sample along <paramref name="dim"/>: softmax((logits + g)/τ) with g ~ Gumbel(0, 1).
    /// With <paramref name="hard"/>, the forward value is one-hot and the gradient is the soft sample's
    /// (straight-through), as torch.nn.functional.gumbel_softmax.
    /// </summary>
    public static Tensor GumbelSoftmax(Tensor logits, double tau = 1, bool hard = false, long dim = -1, Generator? generator = null)
    {
        using var scope = Torch.NewScope();
        // −log(Exponential(1)) is Gumbel(0, 1); draw the exponential as −log(U) with U in [0, 1): it is
        // then never 0 (U < 1), so no sample is +∞; U = 0 gives a −∞ sample, which softmax maps to 0.
        var u = Tensor.Rand(logits.Shape, generator, logits.DType, logits.Device);
        var gumbel = -(-u.Log()).Log();
        var soft = ((logits + gumbel) / tau).Softmax(dim);
        if (!hard) return soft.MoveToOuterScope();
        var index = soft.ArgMax(dim, keepDim: false);
        long classes = logits.Size((int)dim);
        var oneHot = index.OneHot(classes).To(logits.DType);
        long d = dim < 0 ? dim + logits.Dim : dim;
        if (d != logits.Dim - 1)
        {
            // one_hot appends the class axis; move it back to position d (a transpose would swap d with the last).
            var order = new long[logits.Dim];
            for (int i = 0, j = 0; i < order.Length; i++) order[i] = i == d ? order.Length - 1 : j++;
            oneHot = oneHot.Permute(order);
        }
        return StraightThrough(soft, oneHot).MoveToOuterScope();
    }

    /// <summary>
    /// The straight-through idiom <c>x + (y − x).Detach()</c>: the forward value of <paramref name="y"/> with the
    /// gradient of <paramref name="x"/> (used for quantization and hard sampling).
    /// </summary>
    public static Tensor StraightThrough(Tensor x, Tensor y)
    {
        using var scope = Torch.NewScope();
        return (x + (y - x).Detach()).MoveToOuterScope();
    }
}
