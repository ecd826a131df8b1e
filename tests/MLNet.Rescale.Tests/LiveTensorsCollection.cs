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
}
