using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Model;

namespace MLNet.Rescale.ML.Core;

/// <summary>
/// The common shape of this library's transformers: one output column computed row by row from an input column (and
/// possibly further columns), lazily, replacing a column of the same name. Subclasses say which types they accept and
/// produce, compute one value in <see cref="Map"/>, and write their settings in <see cref="Save"/>.
/// </summary>
public abstract class ColumnTransformer : ITransformer
{
    private static readonly IReadOnlyDictionary<string, object> None = new Dictionary<string, object>();

    private protected ColumnTransformer(string outputColumnName, string? inputColumnName)
    {
        ArgumentException.ThrowIfNullOrEmpty(outputColumnName);
        OutputColumnName = outputColumnName;
        InputColumnName = string.IsNullOrEmpty(inputColumnName) ? outputColumnName : inputColumnName;
    }

    /// <summary>The column written.</summary>
    public string OutputColumnName { get; }

    /// <summary>The column read.</summary>
    public string InputColumnName { get; }

    /// <summary>The type the input column must have.</summary>
    private protected virtual DataViewType InputType => ImageDataViewType.Instance;

    /// <summary>The type of the output column.</summary>
    private protected virtual DataViewType OutputType => ImageDataViewType.Instance;

    /// <summary>Further columns read (name and type), beyond <see cref="InputColumnName"/>.</summary>
    private protected virtual IReadOnlyList<(string Name, DataViewType Type)> ExtraInputs => [];

    /// <summary>Whether the output column carries the input column's annotations (true for a transform that keeps the image's geometry and meaning).</summary>
    private protected virtual bool KeepsAnnotations => false;

    /// <summary>Annotations the output column gets beyond the inherited ones.</summary>
    private protected virtual IReadOnlyDictionary<string, object> AddedAnnotations => None;

    /// <summary>Computes the output value of one row.</summary>
    private protected abstract object Map(MappedRow row);

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        var input = SchemaCheck.Require(inputSchema, InputColumnName, InputType, GetType().Name);
        foreach (var (name, type) in ExtraInputs) SchemaCheck.Require(inputSchema, name, type, GetType().Name);
        var annotations = KeepsAnnotations ? new Dictionary<string, object>(input.Annotations) : new Dictionary<string, object>();
        foreach (var (k, v) in AddedAnnotations) annotations[k] = v;
        return inputSchema.WithColumn(OutputColumnName, OutputType, annotations);
    }

    /// <summary>The schema shape <see cref="GetOutputSchema"/> will produce (what a trivial estimator reports before fitting).</summary>
    internal SchemaShape GetOutputSchemaShape(SchemaShape inputSchema)
    {
        var input = SchemaCheck.Require(inputSchema, InputColumnName, InputType, GetType().Name);
        foreach (var (name, type) in ExtraInputs) SchemaCheck.Require(inputSchema, name, type, GetType().Name);
        var annotations = (KeepsAnnotations ? input.Annotations : []).Union(AddedAnnotations.Keys).Order(StringComparer.Ordinal).ToArray();
        return inputSchema.With(new SchemaShape.Column(OutputColumnName, OutputType, annotations));
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input) =>
        new MappedDataView(input, GetOutputSchema(input.Schema), OutputColumnName, [InputColumnName, .. ExtraInputs.Select(e => e.Name)], Map);

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <inheritdoc/>
    public abstract void Save(ModelSaveContext ctx);
}

/// <summary>Schema checks with errors that name the component, the column and what was found.</summary>
internal static class SchemaCheck
{
    public static DataViewSchema.Column Require(DataViewSchema schema, string name, DataViewType type, string component)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new InvalidOperationException($"{component}: input column '{name}' not found (columns: {string.Join(", ", schema.Select(c => c.Name))})");
        if (!column.Type.Equals(type) && !(type is TensorDataViewType { Dimensions.Count: 0 } && column.Type is TensorDataViewType))
            throw new InvalidOperationException($"{component}: input column '{name}' holds {column.Type}, expected {type}");
        return column;
    }

    public static SchemaShape.Column Require(SchemaShape shape, string name, DataViewType type, string component)
    {
        var column = shape.Find(name)
            ?? throw new InvalidOperationException($"{component}: input column '{name}' not found (columns: {string.Join(", ", shape.Select(c => c.Name))})");
        if (!column.Type.Equals(type)) throw new InvalidOperationException($"{component}: input column '{name}' holds {column.Type}, expected {type}");
        return column;
    }
}
