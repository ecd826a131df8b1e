using static MLNet.Rescale.Tensors.Native;

namespace MLNet.Rescale.Tensors;

// Elementwise arithmetic, reductions and shape operations; all differentiable where
// libtorch's are, all broadcasting as in PyTorch.
public sealed partial class Tensor
{
    private Tensor U(Unary op) => new(rs_unary(Handle, (int)op));
    private Tensor B(Tensor other, Binary op) => new(rs_binary(Handle, other.Handle, (int)op));
    private Tensor S(double s, Binary op) => new(rs_binary_scalar(Handle, s, (int)op));

    /// <summary>a + b.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => a.B(b, Binary.Add);
    /// <summary>a + s.</summary>
    public static Tensor operator +(Tensor a, double s) => a.S(s, Binary.Add);
    /// <summary>s + a.</summary>
    public static Tensor operator +(double s, Tensor a) => a.S(s, Binary.Add);
    /// <summary>a − b.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => a.B(b, Binary.Sub);
    /// <summary>a − s.</summary>
    public static Tensor operator -(Tensor a, double s) => a.S(s, Binary.Sub);
    /// <summary>s − a.</summary>
    public static Tensor operator -(double s, Tensor a) => a.S(s, Binary.RSub);
    /// <summary>−a.</summary>
    public static Tensor operator -(Tensor a) => a.U(Unary.Neg);
    /// <summary>a · b.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => a.B(b, Binary.Mul);
    /// <summary>a · s.</summary>
    public static Tensor operator *(Tensor a, double s) => a.S(s, Binary.Mul);
    /// <summary>s · a.</summary>
    public static Tensor operator *(double s, Tensor a) => a.S(s, Binary.Mul);
    /// <summary>a / b.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => a.B(b, Binary.Div);
    /// <summary>a / s.</summary>
    public static Tensor operator /(Tensor a, double s) => a.S(s, Binary.Div);
    /// <summary>s / a (floating result, as PyTorch's <c>s / a</c>).</summary>
    public static Tensor operator /(double s, Tensor a)
    {
        using var scope = Torch.NewScope();
        var dtype = a.DType is DType.Float64 or DType.Float16 or DType.BFloat16 ? a.DType : DType.Float32;
        return (Scalar(s, dtype, a.Device) / a).MoveToOuterScope();
    }

    /// <summary>eˣ.</summary>
    public Tensor Exp() => U(Unary.Exp);
    /// <summary>Natural logarithm.</summary>
    public Tensor Log() => U(Unary.Log);
    /// <summary>1 / (1 + e⁻ˣ).</summary>
    public Tensor Sigmoid() => U(Unary.Sigmoid);
    /// <summary>Hyperbolic tangent.</summary>
    public Tensor Tanh() => U(Unary.Tanh);
    /// <summary>Square root.</summary>
    public Tensor Sqrt() => U(Unary.Sqrt);
    /// <summary>1 / √x.</summary>
    public Tensor Rsqrt() => U(Unary.Rsqrt);
    /// <summary>|x|.</summary>
    public Tensor Abs() => U(Unary.Abs);
    /// <summary>sin x.</summary>
    public Tensor Sin() => U(Unary.Sin);
    /// <summary>cos x.</summary>
    public Tensor Cos() => U(Unary.Cos);
    /// <summary>Round half to even (zero gradient almost everywhere).</summary>
    public Tensor Round() => U(Unary.Round);
    /// <summary>Floor.</summary>
    public Tensor Floor() => U(Unary.Floor);
    /// <summary>Sign (−1, 0, 1).</summary>
    public Tensor Sign() => U(Unary.Sign);
    /// <summary>x².</summary>
    public Tensor Square() => U(Unary.Square);
    /// <summary>max(x, 0).</summary>
    public Tensor Relu() => U(Unary.Relu);
    /// <summary>Elementwise test for finite values (bool).</summary>
    public Tensor IsFinite() => U(Unary.IsFinite);
    /// <summary>xᵖ.</summary>
    public Tensor Pow(double exponent) => S(exponent, Binary.Pow);
    /// <summary>x^e elementwise.</summary>
    public Tensor Pow(Tensor exponent) => B(exponent, Binary.Pow);
    /// <summary>Elementwise maximum.</summary>
    public Tensor Maximum(Tensor other) => B(other, Binary.Maximum);
    /// <summary>Elementwise minimum.</summary>
    public Tensor Minimum(Tensor other) => B(other, Binary.Minimum);
    /// <summary>x == y (bool).</summary>
    public Tensor Eq(Tensor other) => B(other, Binary.Eq);
    /// <summary>x &gt; s (bool).</summary>
    public Tensor Gt(double s) => S(s, Binary.Gt);
    /// <summary>x &lt; s (bool).</summary>
    public Tensor Lt(double s) => S(s, Binary.Lt);
    /// <summary>Leaky ReLU with the given negative slope.</summary>
    public Tensor LeakyRelu(double slope) => new(rs_leaky_relu(Handle, slope));
    /// <summary>Clamps to [min, max]; either bound may be omitted.</summary>
    public Tensor Clamp(double? min = null, double? max = null) =>
        new(rs_clamp(Handle, min ?? 0, max ?? 0, min.HasValue ? 1 : 0, max.HasValue ? 1 : 0));
    /// <summary>cond ? a : b, elementwise.</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b) => new(rs_where(condition.Handle, a.Handle, b.Handle));

    // ---- reductions -------------------------------------------------------------------

    private unsafe Tensor Reduce(Reduction op, ReadOnlySpan<long> dims, bool keepDim)
    {
        fixed (long* d = dims) return new Tensor(rs_reduce(Handle, (int)op, d, dims.Length, keepDim ? 1 : 0));
    }

    /// <summary>Sum of all elements.</summary>
    public Tensor Sum() => Reduce(Reduction.Sum, default, false);
    /// <summary>Sum over dimensions.</summary>
    public Tensor Sum(long[] dims, bool keepDim = false) => Reduce(Reduction.Sum, dims, keepDim);
    /// <summary>Mean of all elements.</summary>
    public Tensor Mean() => Reduce(Reduction.Mean, default, false);
    /// <summary>Mean over dimensions.</summary>
    public Tensor Mean(long[] dims, bool keepDim = false) => Reduce(Reduction.Mean, dims, keepDim);
    /// <summary>Maximum of all elements.</summary>
    public Tensor Max() => Reduce(Reduction.Max, default, false);
    /// <summary>Maximum over dimensions.</summary>
    public Tensor Max(long[] dims, bool keepDim = false) => Reduce(Reduction.Max, dims, keepDim);
    /// <summary>Minimum of all elements.</summary>
    public Tensor Min() => Reduce(Reduction.Min, default, false);
    /// <summary>Index of the maximum along a dimension.</summary>
    public Tensor ArgMax(long dim, bool keepDim = false) => new(rs_argmax(Handle, dim, keepDim ? 1 : 0));
    /// <summary>The p-norm of all elements.</summary>
    public Tensor Norm(double p = 2) => new(rs_norm(Handle, p));
    /// <summary>Softmax along a dimension.</summary>
    public Tensor Softmax(long dim) => new(rs_softmax(Handle, dim, 0));
    /// <summary>Log-softmax along a dimension.</summary>
    public Tensor LogSoftmax(long dim) => new(rs_softmax(Handle, dim, 1));
    /// <summary>One-hot encoding of an int64 index tensor (appends a dimension).</summary>
    public Tensor OneHot(long classes) => new(rs_one_hot(Handle, classes));

    // ---- shape ------------------------------------------------------------------------

    /// <summary>Same data, new shape (copies only when needed); one size may be −1.</summary>
    public unsafe Tensor Reshape(params long[] shape)
    {
        fixed (long* s = shape) return new Tensor(rs_reshape(Handle, s, shape.Length));
    }

    /// <summary>Same storage, new shape (the tensor must be contiguous enough).</summary>
    public unsafe Tensor View(params long[] shape)
    {
        fixed (long* s = shape) return new Tensor(rs_view(Handle, s, shape.Length));
    }

    /// <summary>Broadcasts size-1 dimensions without copying.</summary>
    public unsafe Tensor Expand(params long[] shape)
    {
        fixed (long* s = shape) return new Tensor(rs_expand(Handle, s, shape.Length));
    }

    /// <summary>Reorders dimensions.</summary>
    public unsafe Tensor Permute(params long[] order)
    {
        fixed (long* s = order) return new Tensor(rs_permute(Handle, s, order.Length));
    }

    /// <summary>Reverses the given dimensions.</summary>
    public unsafe Tensor Flip(params long[] dims)
    {
        fixed (long* s = dims) return new Tensor(rs_flip(Handle, s, dims.Length));
    }

    /// <summary>Rotates by k·90° in the plane of two dimensions.</summary>
    public Tensor Rot90(long k, long dim0 = -2, long dim1 = -1) => new(rs_rot90(Handle, k, dim0, dim1));
    /// <summary>Swaps two dimensions.</summary>
    public Tensor Transpose(long dim0, long dim1) => new(rs_transpose(Handle, dim0, dim1));
    /// <summary>A contiguous copy (or this data when already contiguous).</summary>
    public Tensor Contiguous() => new(rs_contiguous(Handle));
    /// <summary>
    /// A copy dense in <paramref name="format"/> (or this data when already so). <see cref="MemoryFormat.ChannelsLast"/>
    /// needs a 4-D tensor; shape and values are unchanged, only the order of the elements in memory.
    /// </summary>
    public Tensor Contiguous(MemoryFormat format) => new(rs_to_memory_format(Handle, (int)format));
    /// <summary>Whether the elements are dense in <paramref name="format"/>.</summary>
    public bool IsContiguous(MemoryFormat format = MemoryFormat.Contiguous) => rs_is_contiguous(Handle, (int)format) != 0;
    /// <summary>Elements start..end (exclusive) by step along a dimension, as a view.</summary>
    public Tensor Slice(long dim, long start, long end, long step = 1) => new(rs_slice(Handle, dim, start, end, step));
    /// <summary>length elements from start along a dimension, as a view.</summary>
    public Tensor Narrow(long dim, long start, long length) => new(rs_narrow(Handle, dim, start, length));
    /// <summary>Matrix product with broadcasting.</summary>
    public Tensor MatMul(Tensor other) => new(rs_matmul(Handle, other.Handle));

    /// <summary>Contracts dimensions <paramref name="dimsA"/> of this with <paramref name="dimsB"/> of other.</summary>
    public unsafe Tensor TensorDot(Tensor other, long[] dimsA, long[] dimsB)
    {
        if (dimsA.Length != dimsB.Length) throw new ArgumentException("tensordot needs as many dims on each side");
        fixed (long* a = dimsA)
        fixed (long* b = dimsB)
            return new Tensor(rs_tensordot(Handle, other.Handle, a, b, dimsA.Length));
    }

    /// <summary>
    /// Concatenates along a dimension. Channels-last tensors joined along their channels (dim 1) stay
    /// channels-last, through a copy per pixel that is much faster than libtorch's own for that layout.
    /// </summary>
    public static unsafe Tensor Cat(IReadOnlyList<Tensor> tensors, long dim)
    {
        using var h = new HandleArray(tensors);
        fixed (IntPtr* p = h.Pointers) return new Tensor(rs_cat(p, tensors.Count, dim));
    }

    /// <summary>Stacks along a new dimension.</summary>
    public static unsafe Tensor Stack(IReadOnlyList<Tensor> tensors, long dim)
    {
        using var h = new HandleArray(tensors);
        fixed (IntPtr* p = h.Pointers) return new Tensor(rs_stack(p, tensors.Count, dim));
    }

    // ---- in place (for optimizers and initializers; not recorded when under NoGrad) -------

    /// <summary>this += alpha · other, in place.</summary>
    public Tensor AddInPlace(Tensor other, double alpha = 1)
    {
        Check(rs_binary_(Handle, other.Handle, (int)Binary.Add, alpha));
        return this;
    }

    /// <summary>this ·= s, in place.</summary>
    public Tensor MulInPlace(double s)
    {
        Check(rs_binary_scalar_(Handle, s, (int)Binary.Mul));
        return this;
    }

    /// <summary>Copies other's values into this tensor, in place.</summary>
    public Tensor CopyFrom(Tensor other)
    {
        Check(rs_binary_(Handle, other.Handle, (int)Binary.Copy, 1));
        return this;
    }

    /// <summary>Fills with a value, in place.</summary>
    public Tensor FillInPlace(double value)
    {
        Check(rs_binary_scalar_(Handle, value, (int)Binary.Fill));
        return this;
    }
}
