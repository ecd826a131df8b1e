using System.Runtime.InteropServices;

namespace MLNet.Rescale.Tensors;

/// <summary>
/// An n-dimensional array in libtorch, with autograd. Owns one native handle: dispose it, or let
/// the <see cref="DisposeScope"/> that was open when it was created dispose it.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    private readonly TensorHandle handle;

    internal Tensor(TensorHandle handle, bool scoped = true)
    {
        this.handle = handle;
        if (scoped && DisposeScope.Current is { } s)
        {
            Scope = s;
            s.Add(this);
        }
    }

    internal Tensor(IntPtr raw) : this(Native.Check(raw)) { }

    internal TensorHandle Handle => !handle.IsClosed ? handle : throw new ObjectDisposedException(nameof(Tensor));

    /// <summary>The scope that will dispose this tensor, or null.</summary>
    public DisposeScope? Scope { get; private set; }

    /// <summary>Whether the native tensor was freed.</summary>
    public bool IsDisposed => handle.IsClosed;

    /// <summary>Hands ownership to the scope outside the current owner (or to the caller when there is none).</summary>
    public Tensor MoveToOuterScope()
    {
        Scope = Scope?.Outer;
        Scope?.Add(this);
        return this;
    }

    /// <summary>Takes the tensor out of every scope: the caller disposes it.</summary>
    public Tensor DetachFromScope()
    {
        Scope = null;
        return this;
    }

    /// <summary>Frees the native tensor (idempotent).</summary>
    public void Dispose() => handle.Dispose();

    // ---- creation ---------------------------------------------------------------

    /// <summary>Copies <paramref name="data"/> into a new tensor of the given shape.</summary>
    public static unsafe Tensor From<T>(ReadOnlySpan<T> data, ReadOnlySpan<long> shape, Device? device = null, bool scoped = true)
        where T : unmanaged
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        if (n != data.Length)
            throw new ArgumentException($"shape [{string.Join(", ", shape.ToArray())}] needs {n} elements, got {data.Length}");
        fixed (T* p = data)
        fixed (long* s = shape)
            return new Tensor(Native.Check(Native.rs_from_data(p, s, shape.Length, (int)DTypes.Of<T>(), Dev(device))), scoped);
    }

    /// <summary>A tensor of any dtype from its raw little-endian bytes.</summary>
    public static unsafe Tensor FromBytes(ReadOnlySpan<byte> data, ReadOnlySpan<long> shape, DType dtype, Device? device = null)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        if (n * DTypes.Size(dtype) != data.Length)
            throw new ArgumentException($"shape [{string.Join(", ", shape.ToArray())}] of {dtype} needs {n * DTypes.Size(dtype)} bytes, got {data.Length}");
        fixed (byte* p = data)
        fixed (long* s = shape)
            return new Tensor(Native.Check(Native.rs_from_data(p, s, shape.Length, (int)dtype, Dev(device))));
    }

    /// <summary>The raw little-endian bytes of the elements (row-major).</summary>
    public unsafe byte[] ToBytes()
    {
        var a = new byte[Numel * DTypes.Size(DType)];
        fixed (byte* p = a) Native.Check(Native.rs_copy_to(Handle, p, a.Length));
        return a;
    }

    /// <summary>A float32 tensor from an array and a shape.</summary>
    public static Tensor FromArray(float[] data, params long[] shape) => From<float>(data, shape);

    /// <summary>A 0-d float32 tensor.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32, Device? device = null) => Full([], value, dtype, device);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static unsafe Tensor Full(ReadOnlySpan<long> shape, double value, DType dtype = DType.Float32, Device? device = null)
    {
        fixed (long* s = shape) return new Tensor(Native.rs_full(s, shape.Length, value, (int)dtype, Dev(device)));
    }

    /// <summary>Zeros.</summary>
    public static Tensor Zeros(ReadOnlySpan<long> shape, DType dtype = DType.Float32, Device? device = null) => Full(shape, 0, dtype, device);

    /// <summary>Ones.</summary>
    public static Tensor Ones(ReadOnlySpan<long> shape, DType dtype = DType.Float32, Device? device = null) => Full(shape, 1, dtype, device);

    /// <summary>Uninitialized memory.</summary>
    public static unsafe Tensor Empty(ReadOnlySpan<long> shape, DType dtype = DType.Float32, Device? device = null)
    {
        fixed (long* s = shape) return new Tensor(Native.rs_empty(s, shape.Length, (int)dtype, Dev(device)));
    }

    /// <summary>Values from start (inclusive) to end (exclusive) in steps.</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType dtype = DType.Float32, Device? device = null) =>
        new(Native.rs_arange(start, end, step, (int)dtype, Dev(device)));

    /// <summary>Standard normal samples.</summary>
    public static Tensor Randn(ReadOnlySpan<long> shape, Generator? generator = null, DType dtype = DType.Float32, Device? device = null) =>
        Random(0, shape, 0, 1, generator, dtype, device);

    /// <summary>Uniform samples in [0, 1).</summary>
    public static Tensor Rand(ReadOnlySpan<long> shape, Generator? generator = null, DType dtype = DType.Float32, Device? device = null) =>
        Random(1, shape, 0, 1, generator, dtype, device);

    /// <summary>Uniform samples in [low, high).</summary>
    public static Tensor Uniform(ReadOnlySpan<long> shape, double low, double high, Generator? generator = null, DType dtype = DType.Float32, Device? device = null) =>
        Random(2, shape, low, high, generator, dtype, device);

    private static unsafe Tensor Random(int kind, ReadOnlySpan<long> shape, double low, double high, Generator? g, DType dtype, Device? device)
    {
        fixed (long* s = shape)
            return new Tensor(Native.rs_random(kind, s, shape.Length, low, high, g?.Handle ?? IntPtr.Zero, (int)dtype, Dev(device)));
    }

    private static int Dev(Device? d) => (int)(d ?? Torch.DefaultDevice).Type;

    // ---- metadata and data ------------------------------------------------------------

    /// <summary>The sizes of each dimension.</summary>
    public unsafe long[] Shape
    {
        get
        {
            var dims = new long[Native.rs_ndim(Handle)];
            fixed (long* p = dims) Native.rs_shape(Handle, p, dims.Length);
            return dims;
        }
    }

    /// <summary>Size of dimension <paramref name="dim"/> (negative counts from the end).</summary>
    public long Size(int dim)
    {
        var s = Shape;
        return s[dim < 0 ? s.Length + dim : dim];
    }

    /// <summary>Number of dimensions.</summary>
    public int Dim => Native.rs_ndim(Handle);

    /// <summary>Number of elements.</summary>
    public long Numel => Native.rs_numel(Handle);

    /// <summary>Element type.</summary>
    public DType DType => (DType)Native.rs_dtype(Handle);

    /// <summary>Where the data lives.</summary>
    public Device Device => new((DeviceType)Native.rs_device(Handle));

    /// <summary>Copies the elements (row-major) into <paramref name="destination"/>.</summary>
    public unsafe void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        if (DTypes.Of<T>() != DType)
            throw new InvalidOperationException($"tensor is {DType}, requested {typeof(T).Name}");
        fixed (T* p = destination)
            Native.Check(Native.rs_copy_to(Handle, p, (long)destination.Length * sizeof(T)));
    }

    /// <summary>The elements as a new array (row-major).</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        var a = new T[Numel];
        CopyTo<T>(a);
        return a;
    }

    /// <summary>The value of a one-element tensor.</summary>
    public double Item()
    {
        Native.Check(Native.rs_item(Handle, out var v));
        return v;
    }

    /// <summary>Converts the element type.</summary>
    public Tensor To(DType dtype) => new(Native.rs_to(Handle, (int)dtype, (int)Device.Type));

    /// <summary>Moves to a device.</summary>
    public Tensor To(Device device) => new(Native.rs_to(Handle, -1, (int)device.Type));

    /// <summary>A copy with its own storage (and a gradient path to this tensor).</summary>
    public Tensor Clone() => new(Native.rs_clone(Handle));

    /// <summary>A second handle to the same tensor (shares storage and autograd identity).</summary>
    public Tensor Alias() => new(Native.rs_alias(Handle));

    /// <summary>Shape and type, e.g. <c>Tensor[1, 3, 64, 64] Float32 cpu</c>.</summary>
    public override string ToString() =>
        IsDisposed ? "Tensor(disposed)" : $"Tensor[{string.Join(", ", Shape)}] {DType} {Device}{(RequiresGrad ? " requires_grad" : "")}";

    // ---- autograd ---------------------------------------------------------------------

    /// <summary>Whether operations on this tensor are recorded for differentiation.</summary>
    public bool RequiresGrad
    {
        get => Native.rs_requires_grad(Handle) != 0;
        set => Native.Check(Native.rs_set_requires_grad(Handle, value ? 1 : 0));
    }

    /// <summary>Whether this tensor is a leaf of the autograd graph.</summary>
    public bool IsLeaf => Native.rs_is_leaf(Handle) != 0;

    /// <summary>The accumulated gradient, or null before any backward pass. A new handle each call.</summary>
    public Tensor? Grad
    {
        get
        {
            var h = Native.rs_grad(Handle);
            if (h != IntPtr.Zero) return new Tensor(new TensorHandle(h));
            var err = Native.LastError();
            return err.Length == 0 ? null : throw new TorchException(err);
        }
    }

    /// <summary>Drops the accumulated gradient.</summary>
    public void ZeroGrad() => Native.Check(Native.rs_zero_grad(Handle));

    /// <summary>Back-propagates from this (scalar) tensor, or with an explicit upstream gradient.</summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false)
    {
        using var g = new OptionalHandle(gradient);
        Native.Check(Native.rs_backward(Handle, g.Pointer, retainGraph ? 1 : 0));
    }

    /// <summary>The same values cut from the autograd graph.</summary>
    public Tensor Detach() => new(Native.rs_detach(Handle));

    /// <summary>Sets <see cref="RequiresGrad"/> and returns this tensor.</summary>
    public Tensor RequiresGrad_(bool on = true)
    {
        RequiresGrad = on;
        return this;
    }

    /// <summary>Keeps an optional tensor's handle alive across a native call (null when absent).</summary>
    internal readonly ref struct OptionalHandle
    {
        private readonly TensorHandle? handle;
        public readonly IntPtr Pointer;

        public OptionalHandle(Tensor? t)
        {
            if (t is null) return;
            bool ok = false;
            handle = t.Handle;
            handle.DangerousAddRef(ref ok);
            Pointer = handle.DangerousGetHandle();
        }

        public void Dispose() => handle?.DangerousRelease();
    }

    /// <summary>Keeps native handles alive across a call that takes many of them.</summary>
    internal readonly ref struct HandleArray
    {
        private readonly TensorHandle[] handles;
        public readonly IntPtr[] Pointers;

        public HandleArray(IReadOnlyList<Tensor> tensors)
        {
            handles = new TensorHandle[tensors.Count];
            Pointers = new IntPtr[tensors.Count];
            for (int i = 0; i < tensors.Count; i++)
            {
                bool ok = false;
                handles[i] = tensors[i].Handle;
                handles[i].DangerousAddRef(ref ok);
                Pointers[i] = handles[i].DangerousGetHandle();
            }
        }

        public void Dispose()
        {
            foreach (var h in handles) h?.DangerousRelease();
        }
    }
}
