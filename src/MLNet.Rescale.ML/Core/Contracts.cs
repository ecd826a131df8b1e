using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Model;

namespace MLNet.Rescale.ML.Core;

/// <summary>A component that can write itself into a model file (see <see cref="ModelSaveContext"/>).</summary>
public interface ICanSaveModel
{
    /// <summary>Writes the component's kind, options and networks.</summary>
    void Save(ModelSaveContext ctx);
}

/// <summary>
/// A fitted component: maps a data view to another, lazily (<see cref="Transform"/> returns at once; values are computed
/// when read).
/// </summary>
public interface ITransformer : ICanSaveModel
{
    /// <summary>The schema <see cref="Transform"/> produces from <paramref name="inputSchema"/>; throws when the input lacks a column or has the wrong type.</summary>
    DataViewSchema GetOutputSchema(DataViewSchema inputSchema);

    /// <summary>The transformed view (lazy: nothing is computed until a cursor reads it).</summary>
    IDataView Transform(IDataView input);

    /// <summary>True when each output row depends only on the matching input row (all transformers here).</summary>
    bool IsRowToRowMapper { get; }
}

/// <summary>
/// A component that learns a transformer from data: <see cref="Fit"/> is eager (reads the data and trains now);
/// <see cref="GetOutputSchema"/> checks a pipeline before anything is fitted.
/// </summary>
public interface IEstimator<out TTransformer> where TTransformer : ITransformer
{
    /// <summary>Trains on <paramref name="input"/> and returns the fitted transformer.</summary>
    TTransformer Fit(IDataView input);

    /// <summary>The shape of the output schema for an input of shape <paramref name="inputSchema"/>; throws on a mismatch.</summary>
    SchemaShape GetOutputSchema(SchemaShape inputSchema);
}

/// <summary>An estimator that needs no training: <see cref="Fit"/> checks the schema and returns its transformer.</summary>
public sealed class TrivialEstimator<TTransformer> : IEstimator<TTransformer> where TTransformer : ColumnTransformer
{
    private readonly TTransformer transformer;

    internal TrivialEstimator(TTransformer transformer) => this.transformer = transformer;

    /// <inheritdoc/>
    public TTransformer Fit(IDataView input)
    {
        transformer.GetOutputSchema(input.Schema);
        return transformer;
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => transformer.GetOutputSchemaShape(inputSchema);
}

