using System.Globalization;
using MLNet.Rescale.Imaging;

namespace MLNet.Rescale.ML.Data;

/// <summary>The type of a data-view column: which .NET type its values have (<see cref="RawType"/>) and how it is named in model files.</summary>
public abstract class DataViewType : IEquatable<DataViewType>
{
    private protected DataViewType(Type rawType) => RawType = rawType;

    /// <summary>The .NET type of the column's values (what a getter returns).</summary>
    public Type RawType { get; }

    /// <summary>The name written into model files, e.g. <c>Text</c>, <c>Image</c>, <c>Double</c>, <c>Tensor[3,8]</c>.</summary>
    public abstract string Name { get; }

    /// <inheritdoc/>
    public virtual bool Equals(DataViewType? other) => other is not null && other.Name == Name;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is DataViewType t && Equals(t);

    /// <inheritdoc/>
    public override int GetHashCode() => Name.GetHashCode(StringComparison.Ordinal);

    /// <inheritdoc/>
    public override string ToString() => Name;

    /// <summary>The type a <see cref="Name"/> denotes; <paramref name="source"/> names the file in errors.</summary>
    public static DataViewType Parse(string name, string source)
    {
        switch (name)
        {
            case "Text": return TextDataViewType.Instance;
            case "Image": return ImageDataViewType.Instance;
            case "Single": return NumberDataViewType.Single;
            case "Double": return NumberDataViewType.Double;
            case "Int32": return NumberDataViewType.Int32;
            case "Int64": return NumberDataViewType.Int64;
        }
        if (name.StartsWith("Tensor[", StringComparison.Ordinal) && name.EndsWith(']'))
        {
            var inner = name[7..^1];
            var dims = inner.Length == 0 ? [] : inner.Split(',').Select(d => int.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : -1).ToArray();
            if (dims.All(d => d >= 0)) return new TensorDataViewType(dims);
        }
        throw new InvalidDataException($"{source}: unknown column type '{name}'");
    }
}

/// <summary>Text values (<see cref="string"/>), e.g. image paths.</summary>
public sealed class TextDataViewType : DataViewType
{
    private TextDataViewType() : base(typeof(string)) { }

    /// <summary>The one instance.</summary>
    public static TextDataViewType Instance { get; } = new();

    /// <inheritdoc/>
    public override string Name => "Text";
}

/// <summary>Decoded images (<see cref="Image"/>, planar floats in [0, 1]).</summary>
public sealed class ImageDataViewType : DataViewType
{
    private ImageDataViewType() : base(typeof(Image)) { }

    /// <summary>The one instance.</summary>
    public static ImageDataViewType Instance { get; } = new();

    /// <inheritdoc/>
    public override string Name => "Image";
}

/// <summary>Scalars: <see cref="float"/>, <see cref="double"/>, <see cref="int"/> or <see cref="long"/>.</summary>
public sealed class NumberDataViewType : DataViewType
{
    private NumberDataViewType(Type raw) : base(raw) { }

    /// <summary>32-bit floats.</summary>
    public static NumberDataViewType Single { get; } = new(typeof(float));
    /// <summary>64-bit floats.</summary>
    public static NumberDataViewType Double { get; } = new(typeof(double));
    /// <summary>32-bit integers.</summary>
    public static NumberDataViewType Int32 { get; } = new(typeof(int));
    /// <summary>64-bit integers.</summary>
    public static NumberDataViewType Int64 { get; } = new(typeof(long));

    /// <inheritdoc/>
    public override string Name => RawType.Name;
}

/// <summary>
/// Float tensors held as a flat row-major <see cref="float"/> array; <see cref="Dimensions"/> is the shape of every value,
/// empty when it varies from row to row.
/// </summary>
public sealed class TensorDataViewType : DataViewType
{
    /// <summary>A tensor type of a fixed shape (no dimensions: any shape).</summary>
    public TensorDataViewType(params int[] dimensions) : base(typeof(float[])) => Dimensions = [.. dimensions];

    /// <summary>The shape of each value; empty when unknown.</summary>
    public IReadOnlyList<int> Dimensions { get; }

    /// <inheritdoc/>
    public override string Name => $"Tensor[{string.Join(",", Dimensions.Select(d => d.ToString(CultureInfo.InvariantCulture)))}]";
}
