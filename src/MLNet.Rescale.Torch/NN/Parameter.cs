namespace MLNet.Rescale.Tensors.NN;

/// <summary>A module's learnable (or fixed) tensor: a leaf that the module owns, outside every dispose scope.</summary>
public sealed class Parameter : IDisposable
{
    /// <summary>Wraps <paramref name="value"/>, taking ownership.</summary>
    public Parameter(Tensor value, bool requiresGrad = true)
    {
        Value = value.DetachFromScope();
        Value.RequiresGrad = requiresGrad;
    }

    /// <summary>The tensor.</summary>
    public Tensor Value { get; private set; }

    /// <summary>Whether an optimizer updates it.</summary>
    public bool RequiresGrad => Value.RequiresGrad;

    /// <summary>The gradient, or null.</summary>
    public Tensor? Grad => Value.Grad;

    /// <summary>Shape of the tensor.</summary>
    public long[] Shape => Value.Shape;

    /// <summary>The tensor, so a parameter can be used where a tensor is expected.</summary>
    public static implicit operator Tensor(Parameter p) => p.Value;

    /// <summary>Copies values in, without recording the copy for autograd.</summary>
    public void Set(Tensor source)
    {
        using var _ = Torch.NoGrad();
        Value.CopyFrom(source);
    }

    /// <summary>Moves the data to another device, keeping <see cref="RequiresGrad"/>.</summary>
    public void To(Device device)
    {
        if (Value.Device == device) return;
        bool rg = RequiresGrad;
        Tensor moved;
        using (Torch.NoGrad()) moved = Value.To(device).DetachFromScope();
        Value.Dispose();
        Value = moved;
        Value.RequiresGrad = rg;
    }

    /// <inheritdoc/>
    public override string ToString() => $"Parameter[{string.Join(", ", Shape)}]";

    /// <summary>Frees the tensor.</summary>
    public void Dispose() => Value.Dispose();
}
