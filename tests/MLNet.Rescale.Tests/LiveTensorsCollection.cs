using TorchSharp;
using Xunit;

namespace MLNet.Rescale.Tests;

/// <summary>
/// Tests that count live native tensors, which is process-wide: they run alone, with other tests' garbage finalized
/// first (they failed by chance beside parallel tests).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LiveTensorsCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Live tensors";

    /// <summary>
    /// Tensors created and not yet disposed by this thread (TorchSharp's per-thread count). Unlike
    /// <c>torch.Tensor.TotalCount</c>, it is not moved by the finalizer thread (a tensor left to the garbage collector
    /// stays counted here: only a deterministic Dispose balances it) nor by TorchSharp's <c>Parameter</c> constructor
    /// (which takes over a tensor's handle without counting it as disposed in <c>TotalCount</c>).
    /// </summary>
    public static long LiveTensors => DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
}
