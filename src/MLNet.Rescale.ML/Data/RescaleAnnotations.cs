using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Rescale.ML.Internals;
using MLNet.Rescale.Networks;

namespace MLNet.Rescale.ML.Data;

/// <summary>Names of the annotations this library puts on image columns.</summary>
public static class AnnotationNames
{
    /// <summary>
    /// On an LR image column: the <see cref="RescaleNetwork"/> that made it (of type <see cref="RescalingNetworkDataViewType"/>),
    /// so that an optimizer or upscaler later in the pipeline uses the same network — the way ML.NET's key columns carry
    /// their vocabulary. <c>CompressImages</c> keeps it.
    /// </summary>
    public const string RescalingModel = "RescalingModel";

    /// <summary>On an LR or upscaled column: the scale factor (<see cref="int"/>); evaluation crops this border.</summary>
    public const string Scale = "RescalingScale";
}

/// <summary>The type of the <see cref="AnnotationNames.RescalingModel"/> annotation: an invertible rescaling network.</summary>
public sealed class RescalingNetworkDataViewType : StructuredDataViewType
{
    private RescalingNetworkDataViewType() : base(typeof(RescaleNetwork)) { }

    /// <summary>The one instance.</summary>
    public static RescalingNetworkDataViewType Instance { get; } = new();

    /// <inheritdoc/>
    public override bool Equals(DataViewType? other) => other is RescalingNetworkDataViewType;

    /// <inheritdoc/>
    public override int GetHashCode() => typeof(RescalingNetworkDataViewType).GetHashCode();

    /// <inheritdoc/>
    public override string ToString() => "RescalingNetwork";
}

/// <summary>Building and reading the rescaling annotations.</summary>
internal static class RescaleAnnotations
{
    /// <summary>The annotations of a column a network wrote: the network itself and its scale.</summary>
    public static DataViewSchema.Annotations OfNetwork(RescaleNetwork network)
    {
        var builder = new DataViewSchema.Annotations.Builder();
        ValueGetter<RescaleNetwork> get = (ref RescaleNetwork value) => value = network;
        builder.Add(AnnotationNames.RescalingModel, RescalingNetworkDataViewType.Instance, get);
        builder.AddPrimitiveValue(AnnotationNames.Scale, NumberDataViewType.Int32, network.Scale);
        return builder.ToAnnotations();
    }

    /// <summary>The annotations of an upscaled column: its scale.</summary>
    public static DataViewSchema.Annotations OfScale(int scale)
    {
        var builder = new DataViewSchema.Annotations.Builder();
        builder.AddPrimitiveValue(AnnotationNames.Scale, NumberDataViewType.Int32, scale);
        return builder.ToAnnotations();
    }

    /// <summary>The network a column's annotation names, or null.</summary>
    public static RescaleNetwork? NetworkOf(DataViewSchema.Column column)
    {
        if (column.Annotations.Schema.GetColumnOrNull(AnnotationNames.RescalingModel) is not { } a || a.Type is not RescalingNetworkDataViewType) return null;
        RescaleNetwork network = null!;
        column.Annotations.GetValue(AnnotationNames.RescalingModel, ref network);
        return network;
    }

    /// <summary>The scale a column's annotation gives, or null.</summary>
    public static int? ScaleOf(DataViewSchema.Column column)
    {
        if (column.Annotations.Schema.GetColumnOrNull(AnnotationNames.Scale) is not { } a || a.Type != NumberDataViewType.Int32) return null;
        int scale = 0;
        column.Annotations.GetValue(AnnotationNames.Scale, ref scale);
        return scale >= 1 ? scale : null;
    }

    /// <summary>The annotation shape of a column a network writes (before fitting: names and types, no values).</summary>
    public static SchemaShape NetworkShape() => new([
        ModelParts.ScalarColumn(AnnotationNames.RescalingModel, RescalingNetworkDataViewType.Instance, null),
        ModelParts.ScalarColumn(AnnotationNames.Scale, NumberDataViewType.Int32, null),
    ]);

    /// <summary>The annotation shape of an upscaled column.</summary>
    public static SchemaShape ScaleShape() => new([ModelParts.ScalarColumn(AnnotationNames.Scale, NumberDataViewType.Int32, null)]);

    /// <summary>Whether a column shape promises the network annotation.</summary>
    public static bool HasNetwork(SchemaShape.Column column) =>
        column.Annotations is { } a && a.Any(c => c.Name == AnnotationNames.RescalingModel && c.ItemType is RescalingNetworkDataViewType);
}
