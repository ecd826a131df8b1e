using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Internals;

namespace MLNet.Rescale.ML.Transforms;

/// <summary>
/// The common shape of this library's transformers: one output column computed row by row from an image column (or a
/// text column), lazily, at most once per row, over any <see cref="IDataView"/>. The output is an <see cref="MLImage"/>
/// column of known size whenever the input's size is known and the transform fixes the output's, so ML.NET's own
/// transforms (<c>ExtractPixels</c>, <c>ResizeImages</c>, …) chain after it.
/// </summary>
public abstract class ImageColumnTransformer : ITransformer
{
    private protected ImageColumnTransformer(string outputColumnName, string? inputColumnName)
    {
        ArgumentException.ThrowIfNullOrEmpty(outputColumnName);
        OutputColumnName = outputColumnName;
        InputColumnName = string.IsNullOrEmpty(inputColumnName) ? outputColumnName : inputColumnName;
    }

    /// <summary>The column written.</summary>
    public string OutputColumnName { get; }

    /// <summary>The column read.</summary>
    public string InputColumnName { get; }

    /// <summary>The name errors use.</summary>
    private protected virtual string Component => GetType().Name.Replace("Transformer", "", StringComparison.Ordinal);

    /// <summary>True when the input column is text (a path), not an image.</summary>
    private protected virtual bool InputIsText => false;

    /// <summary>Further text columns read, beyond <see cref="InputColumnName"/>.</summary>
    private protected virtual IReadOnlyList<string> ExtraTextInputs => [];

    /// <summary>True when the output column is text, not an image.</summary>
    private protected virtual bool OutputIsText => false;

    /// <summary>The output's image type for an input of <paramref name="input"/> (size 0 × 0: unknown).</summary>
    private protected virtual ImageDataViewType OutputImageType(ImageDataViewType input) => new();

    /// <summary>The output column's annotations, given the input column.</summary>
    private protected virtual DataViewSchema.Annotations? OutputAnnotations(DataViewSchema.Column input) => null;

    /// <summary>The shape of <see cref="OutputAnnotations"/> before fitting.</summary>
    private protected virtual SchemaShape? OutputAnnotationsShape(SchemaShape.Column input) => null;

    /// <summary>Computes the output of one row: an <see cref="Imaging.Image"/>, or a string for a text output.</summary>
    private protected abstract object Map(RowInputs row, DataViewSchema.Column input);

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Bind(inputSchema).Output;

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new MappedDataView(input, Bind(input.Schema));
    }

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new MappedRowMapper(Bind(inputSchema));

    void ICanSaveModel.Save(ModelSaveContext ctx) => SaveModel(ctx);

    /// <summary>Writes the transformer (see each subclass's <c>// *** Binary format ***</c>).</summary>
    private protected abstract void SaveModel(ModelSaveContext ctx);

    /// <summary>Starts a saved part: its version record, then the output and input column names (every part's first fields).</summary>
    private protected BinaryWriter BeginSave(ModelSaveContext ctx, VersionInfo version)
    {
        var writer = ModelParts.BeginSave(ctx, version);
        ModelParts.WriteString(ctx, OutputColumnName);
        ModelParts.WriteString(ctx, InputColumnName);
        return writer;
    }

    /// <summary>Reads what <see cref="BeginSave"/> wrote.</summary>
    private protected static (BinaryReader Reader, string Output, string Input) BeginLoad(ModelLoadContext ctx, VersionInfo version)
    {
        var reader = ModelParts.BeginLoad(ctx, version);
        string output = ModelParts.ReadString(ctx), input = ModelParts.ReadString(ctx);
        return (reader, output, input);
    }

    internal ColumnBinding Bind(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var input = SchemaChecks.Require(inputSchema, InputColumnName, InputIsText, Component);
        var reads = new List<DataViewSchema.Column> { input };
        foreach (var name in ExtraTextInputs) reads.Add(SchemaChecks.Require(inputSchema, name, text: true, Component));
        DataViewType type = OutputIsText ? TextDataViewType.Instance : OutputImageType(input.Type as ImageDataViewType ?? new ImageDataViewType());
        return new ColumnBinding(inputSchema, OutputColumnName, type, OutputAnnotations(input), reads, row => Map(row, input));
    }

    internal SchemaShape GetOutputShape(SchemaShape inputSchema)
    {
        var input = SchemaChecks.Require(inputSchema, InputColumnName, InputIsText, Component);
        foreach (var name in ExtraTextInputs) SchemaChecks.Require(inputSchema, name, text: true, Component);
        DataViewType type = OutputIsText ? TextDataViewType.Instance : OutputImageType(input.ItemType as ImageDataViewType ?? new ImageDataViewType());
        return SchemaChecks.With(inputSchema, ModelParts.ScalarColumn(OutputColumnName, type, OutputAnnotationsShape(input)));
    }
}

/// <summary>An estimator that needs no training: <see cref="Fit"/> checks the schema and returns its transformer.</summary>
public sealed class ImageColumnEstimator<TTransformer> : IEstimator<TTransformer> where TTransformer : ImageColumnTransformer
{
    private readonly TTransformer transformer;

    internal ImageColumnEstimator(TTransformer transformer) => this.transformer = transformer;

    /// <inheritdoc/>
    public TTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        transformer.Bind(input.Schema);
        return transformer;
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => transformer.GetOutputShape(inputSchema);
}

/// <summary>Schema checks whose errors name the component, the column and what was found (ML.NET's exception types).</summary>
internal static class SchemaChecks
{
    public static DataViewSchema.Column Require(DataViewSchema schema, string name, bool text, string component)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"{component}: input column '{name}' not found (columns: {Names(schema.Where(c => !c.IsHidden).Select(c => c.Name))})");
        bool ok = text ? column.Type is TextDataViewType : column.Type is ImageDataViewType;
        if (!ok) throw new ArgumentOutOfRangeException(nameof(schema), $"{component}: input column '{name}' holds {column.Type}, expected {(text ? "text" : "an image (MLImage)")}");
        return column;
    }

    public static SchemaShape.Column Require(SchemaShape shape, string name, bool text, string component)
    {
        var column = shape.FirstOrDefault(c => c.Name == name);
        if (column.Name is null)
            throw new ArgumentOutOfRangeException(nameof(shape), $"{component}: input column '{name}' not found (columns: {Names(shape.Select(c => c.Name))})");
        bool ok = column.Kind == SchemaShape.Column.VectorKind.Scalar && (text ? column.ItemType is TextDataViewType : column.ItemType is ImageDataViewType);
        if (!ok) throw new ArgumentOutOfRangeException(nameof(shape), $"{component}: input column '{name}' holds {column.ItemType} ({column.Kind}), expected {(text ? "text" : "an image (MLImage)")}");
        return column;
    }

    /// <summary>The shape with <paramref name="column"/> added, replacing a column of the same name.</summary>
    public static SchemaShape With(SchemaShape shape, SchemaShape.Column column) =>
        new(shape.Where(c => c.Name != column.Name).Append(column));

    private static string Names(IEnumerable<string> names) => string.Join(", ", names);
}
