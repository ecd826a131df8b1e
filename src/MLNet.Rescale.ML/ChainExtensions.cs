using MLNet.Rescale.ML.Core;

namespace MLNet.Rescale.ML;

/// <summary>The <c>Append</c> habit: chains estimators and transformers (in the root namespace, as ML.NET's, so <c>using MLNet.Rescale.ML;</c> is enough).</summary>
public static class ChainExtensions
{
    /// <summary>A chain fitting <paramref name="start"/> then <paramref name="next"/> (on the output of the first).</summary>
    public static EstimatorChain<TNext> Append<TNext>(this IEstimator<ITransformer> start, IEstimator<TNext> next)
        where TNext : class, ITransformer =>
        new EstimatorChain<ITransformer>().Append(start).Append(next);

    /// <summary>A chain applying <paramref name="start"/> then <paramref name="next"/>.</summary>
    public static TransformerChain<TNext> Append<TNext>(this ITransformer start, TNext next) where TNext : class, ITransformer =>
        new TransformerChain<ITransformer>(start).Append(next);
}
