using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Microsoft.ML;
using MLNet.Rescale.ML.Internals;
using MLNet.Rescale.Networks;
using MLNet.Rescale.IO;

namespace MLNet.Rescale.ML.Rescaling;

/// <summary>
/// Shared ownership of the native networks transformers hold. One network is shared by the transformers of a pipeline
/// (the downscaler that trained or loaded it, and the optimizer and upscaler that took it from the LR column's
/// annotation) and, after <c>Model.Load</c>, by every transformer whose saved weights are byte-for-byte the same. Each
/// transformer acquires the network when created and releases it when disposed; the last holder frees its native memory,
/// so disposing one transformer never breaks another that still uses the network.
/// </summary>
internal static class NetworkOwnership
{
    private static readonly ConditionalWeakTable<RescaleNetwork, Holders> Table = new();
    private static readonly Dictionary<string, RescaleNetwork> ByContent = [];
    private static readonly object Gate = new();

    private sealed class Holders
    {
        public int Count;
        public string? ContentKey;
    }

    /// <summary>Registers one more holder of <paramref name="network"/>.</summary>
    public static RescaleNetwork Acquire(RescaleNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        lock (Gate) Table.GetOrCreateValue(network).Count++;
        return network;
    }

    /// <summary>
    /// The network held under <paramref name="contentKey"/> (a hash of its saved bytes) with one more holder, or a new
    /// one from <paramref name="load"/> registered under that key.
    /// </summary>
    public static RescaleNetwork AcquireByContent(string contentKey, Func<RescaleNetwork> load)
    {
        lock (Gate)
        {
            if (ByContent.TryGetValue(contentKey, out var shared) && Table.TryGetValue(shared, out var h) && h.Count > 0)
            {
                h.Count++;
                return shared;
            }
            var network = load();
            var holders = Table.GetOrCreateValue(network);
            holders.Count++;
            holders.ContentKey = contentKey;
            ByContent[contentKey] = network;
            return network;
        }
    }

    /// <summary>Lets go of <paramref name="network"/>; the last holder disposes it.</summary>
    public static void Release(RescaleNetwork network)
    {
        lock (Gate)
        {
            if (!Table.TryGetValue(network, out var holders) || holders.Count == 0) return;
            if (--holders.Count > 0) return;
            Table.Remove(network);
            if (holders.ContentKey is { } key) ByContent.Remove(key);
        }
        network.Dispose();
    }
}

/// <summary>A transformer's network inside an ML.NET model zip, stored once per zip however many parts use it.</summary>
internal static class NetworkEntry
{
    // *** Binary format ***
    // byte: 0 — the network is in the entry "Network.safetensors" beside the part: a complete MLNet.Rescale model file
    //           (weights under the reference parameter names, architecture in __metadata__), the way ML.NET's TorchSharp
    //           components keep the state dict; then string: the SHA-256 of those bytes (hex).
    //       1 — the same network as an earlier part of the same zip (a chain's optimizer and upscaler share the
    //           downscaler's); string: the SHA-256 of that part's entry. ML.NET saves and loads a chain's parts in order.
    public const string Name = "Network.safetensors";

    // The networks already written into each zip being saved (keyed by ML.NET's repository writer of that save).
    private static readonly ConditionalWeakTable<object, Dictionary<RescaleNetwork, string>> Saved = new();

    public static void Save(ModelSaveContext ctx, BinaryWriter writer, RescaleNetwork network)
    {
        var written = Saved.GetOrCreateValue(ModelParts.Session(ctx));
        if (written.TryGetValue(network, out var key))
        {
            writer.Write((byte)1);
            ModelParts.WriteString(ctx, key);
            return;
        }
        byte[] bytes = ModelFile.Serialize(network);
        key = Convert.ToHexString(SHA256.HashData(bytes));
        ModelParts.WriteEntry(ctx, Name, w => w.Write(bytes));
        writer.Write((byte)0);
        ModelParts.WriteString(ctx, key);
        written[network] = key;
    }

    /// <summary>The network of the part being loaded; a missing, truncated or inconsistent entry is an error naming the part.</summary>
    public static RescaleNetwork Load(ModelLoadContext ctx, BinaryReader reader, string component)
    {
        string part = $"{ModelParts.PartName(ctx)}/{Name}";
        byte kind = reader.ReadByte();
        string key = ModelParts.ReadString(ctx);
        if (kind == 1)
            return NetworkOwnership.AcquireByContent(key, () => throw new InvalidDataException(
                $"{component}: {ModelParts.PartName(ctx)} uses the network of an earlier part ({key[..12]}…), which is not in the model"));
        if (kind != 0) throw new InvalidDataException($"{component}: {ModelParts.PartName(ctx)}: unknown network storage {kind}");
        byte[]? bytes = null;
        if (!ModelParts.TryReadEntry(ctx, Name, r =>
            {
                using var buffer = new MemoryStream();
                r.BaseStream.CopyTo(buffer);
                bytes = buffer.ToArray();
            }))
            throw new InvalidDataException($"{component}: the model has no network entry '{part}'");
        if (Convert.ToHexString(SHA256.HashData(bytes!)) != key)
            throw new InvalidDataException($"{component}: {part} is damaged (its SHA-256 differs from the one recorded when it was saved)");
        try
        {
            return NetworkOwnership.AcquireByContent(key, () => ModelFile.Load(SafetensorsFile.Parse(bytes!, part)));
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or ArgumentException or NotSupportedException)
        {
            throw new InvalidDataException($"{component}: {part}: {e.Message}", e);
        }
    }
}
