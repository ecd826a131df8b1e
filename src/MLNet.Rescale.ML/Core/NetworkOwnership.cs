using System.Runtime.CompilerServices;
using MLNet.Rescale.Networks;

namespace MLNet.Rescale.ML.Core;

/// <summary>
/// Shared ownership of the native networks transformers hold. One network is shared by the transformers of a pipeline
/// (the downscaler that trained or loaded it, and the optimizer and upscaler that took it from the LR column's
/// annotation, or all transformers of a loaded model zip). Each transformer acquires the network when it is created and
/// releases it when disposed; the network's native memory is freed when the last holder lets go, so disposing one
/// transformer never breaks another that still uses the network.
/// </summary>
internal static class NetworkOwnership
{
    private static readonly ConditionalWeakTable<RescaleNetwork, Holders> Table = new();
    private static readonly object Gate = new();

    private sealed class Holders
    {
        public int Count;
    }

    /// <summary>Registers one more holder of <paramref name="network"/>.</summary>
    public static RescaleNetwork Acquire(RescaleNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        lock (Gate) Table.GetOrCreateValue(network).Count++;
        return network;
    }

    /// <summary>Lets go of <paramref name="network"/>; the last holder disposes it.</summary>
    public static void Release(RescaleNetwork network)
    {
        lock (Gate)
        {
            if (!Table.TryGetValue(network, out var holders) || holders.Count == 0) return;
            if (--holders.Count > 0) return;
            Table.Remove(network);
        }
        network.Dispose();
    }
}
