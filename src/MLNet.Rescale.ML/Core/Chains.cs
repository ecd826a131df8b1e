using System.Collections;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Model;

namespace MLNet.Rescale.ML.Core;

/// <summary>
/// Estimators fitted in order, each on the (lazy) output of the transformers fitted before it; fitting yields the
/// matching <see cref="TransformerChain{TLastTransformer}"/>.
/// </summary>
public sealed class EstimatorChain<TLastTransformer> : IEstimator<TransformerChain<TLastTransformer>>
    where TLastTransformer : class, ITransformer
{
    private readonly IEstimator<ITransformer>[] estimators;

    /// <summary>An empty chain.</summary>
    public EstimatorChain() => estimators = [];

    private EstimatorChain(IEstimator<ITransformer>[] estimators) => this.estimators = estimators;

    /// <summary>The estimators, in order.</summary>
    public IReadOnlyList<IEstimator<ITransformer>> Estimators => estimators;

    /// <summary>This chain followed by <paramref name="next"/>.</summary>
    public EstimatorChain<TNext> Append<TNext>(IEstimator<TNext> next) where TNext : class, ITransformer => new([.. estimators, next]);

    /// <inheritdoc/>
    public TransformerChain<TLastTransformer> Fit(IDataView input)
    {
        // Checked as a whole first, so a misnamed column fails before minutes of training.
        GetOutputSchema(SchemaShape.Create(input.Schema));
        var fitted = new List<ITransformer>();
        var data = input;
        try
        {
            foreach (var estimator in estimators)
            {
                var transformer = estimator.Fit(data);
                fitted.Add(transformer);
                data = transformer.Transform(data);
            }
            return new TransformerChain<TLastTransformer>([.. fitted]);
        }
        catch
        {
            // A later step failed: free the networks the earlier steps trained or loaded.
            for (int i = fitted.Count - 1; i >= 0; i--) (fitted[i] as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) =>
        estimators.Aggregate(inputSchema, (shape, estimator) => estimator.GetOutputSchema(shape));
}

/// <summary>
/// Transformers applied in order; the fitted form of an <see cref="EstimatorChain{TLastTransformer}"/>. As in ML.NET, a
/// chain is <see cref="IDisposable"/> and disposing it disposes every part that is (the rescaling transformers hold
/// native networks); a model from <c>Model.Load</c> is disposed the same way (<c>(model as IDisposable)?.Dispose()</c>).
/// </summary>
public sealed class TransformerChain<TLastTransformer> : ITransformer, IEnumerable<ITransformer>, IDisposable
    where TLastTransformer : class, ITransformer
{
    internal const string Kind = "TransformerChain";
    private readonly ITransformer[] transformers;

    /// <summary>A chain of the given transformers (the last must be a <typeparamref name="TLastTransformer"/>).</summary>
    public TransformerChain(params ITransformer[] transformers)
    {
        if (transformers.Length > 0 && transformers[^1] is not TLastTransformer)
            throw new ArgumentException($"the last transformer is a {transformers[^1].GetType().Name}, not a {typeof(TLastTransformer).Name}");
        this.transformers = transformers;
    }

    /// <summary>The last transformer (the one a chain is usually inspected for).</summary>
    public TLastTransformer LastTransformer => transformers.Length > 0 ? (TLastTransformer)transformers[^1]
        : throw new InvalidOperationException("the chain is empty");

    /// <summary>This chain followed by <paramref name="next"/>.</summary>
    public TransformerChain<TNext> Append<TNext>(TNext next) where TNext : class, ITransformer => new([.. transformers, next]);

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) =>
        transformers.Aggregate(inputSchema, (schema, t) => t.GetOutputSchema(schema));

    /// <inheritdoc/>
    public IDataView Transform(IDataView input) => transformers.Aggregate(input, (data, t) => t.Transform(data));

    /// <inheritdoc/>
    public bool IsRowToRowMapper => transformers.All(t => t.IsRowToRowMapper);

    // *** Model format ***
    // kind "TransformerChain", no options; "children": the transformers in order.
    /// <inheritdoc/>
    public void Save(ModelSaveContext ctx)
    {
        ctx.SetKind(Kind);
        ctx.SaveChildren(transformers);
    }

    internal static TransformerChain<ITransformer> Load(ModelLoadContext ctx) => new([.. ctx.LoadChildren()]);

    private bool disposed;

    /// <summary>Disposes every transformer of the chain that is <see cref="IDisposable"/> (last first), once.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        for (int i = transformers.Length - 1; i >= 0; i--) (transformers[i] as IDisposable)?.Dispose();
    }

    /// <inheritdoc/>
    public IEnumerator<ITransformer> GetEnumerator() => ((IEnumerable<ITransformer>)transformers).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
