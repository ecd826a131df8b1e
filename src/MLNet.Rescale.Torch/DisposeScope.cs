namespace MLNet.Rescale.Tensors;

/// <summary>
/// Owns every tensor created on this thread while it is the innermost open scope and disposes
/// them with itself; results that must outlive it are moved out explicitly
/// (<see cref="Tensor.MoveToOuterScope"/>). Scopes nest and are thread-local, as in TorchSharp.
/// </summary>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] private static DisposeScope? current;
    private readonly List<Tensor> owned = new();
    private bool disposed;

    internal DisposeScope()
    {
        Outer = current;
        current = this;
    }

    /// <summary>The innermost open scope of this thread, if any.</summary>
    public static DisposeScope? Current => current;

    /// <summary>The scope that was current when this one opened.</summary>
    public DisposeScope? Outer { get; }

    /// <summary>Number of tensors this scope still owns.</summary>
    public int Count => owned.Count(t => t.Scope == this && !t.IsDisposed);

    internal void Add(Tensor t) => owned.Add(t);

    /// <summary>Moves tensors out of this scope into the outer one (or out of all scopes).</summary>
    public void MoveToOuter(params Tensor[] tensors)
    {
        foreach (var t in tensors)
            if (t.Scope == this) t.MoveToOuterScope();
    }

    /// <summary>Disposes every tensor still owned and makes the outer scope current again.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var t in owned)
            if (t.Scope == this) t.Dispose();
        owned.Clear();
        // Scopes are disposed in LIFO order by `using`; restore the outer one even if an
        // inner scope was leaked so that the thread does not stay attached to a dead scope.
        if (current == this) current = Outer;
    }
}
