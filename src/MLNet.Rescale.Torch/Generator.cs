namespace MLNet.Rescale.Tensors;

/// <summary>A seeded random generator; tensors drawn from it are reproducible.</summary>
public sealed class Generator : IDisposable
{
    private IntPtr handle;

    /// <summary>Creates a CPU generator with the given seed.</summary>
    public Generator(ulong seed)
    {
        handle = Native.rs_generator_new(seed);
        if (handle == IntPtr.Zero) throw new TorchException(Native.LastError());
        Seed = seed;
    }

    /// <summary>The seed it was created with.</summary>
    public ulong Seed { get; }

    internal IntPtr Handle => handle != IntPtr.Zero ? handle : throw new ObjectDisposedException(nameof(Generator));

    /// <summary>The complete generator state (bytes), for checkpoints.</summary>
    public byte[] GetState()
    {
        using var t = new Tensor(Native.Check(Native.rs_generator_get_state(Handle)), scoped: false);
        return t.ToArray<byte>();
    }

    /// <summary>Restores a state from <see cref="GetState"/>.</summary>
    public void SetState(byte[] state)
    {
        using var t = Tensor.From<byte>(state, [state.Length], scoped: false);
        Native.Check(Native.rs_generator_set_state(Handle, t.Handle));
    }

    /// <summary>Frees the native generator.</summary>
    public void Dispose()
    {
        if (handle != IntPtr.Zero) Native.rs_generator_free(handle);
        handle = IntPtr.Zero;
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the native generator if it was not disposed.</summary>
    ~Generator()
    {
        if (handle != IntPtr.Zero) Native.rs_generator_free(handle);
    }
}
