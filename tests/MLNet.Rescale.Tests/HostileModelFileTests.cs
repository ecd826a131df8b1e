using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using MLNet.Rescale.Networks;
using MLNet.Rescale.IO;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>
/// Model files from strangers: truncated, bit-flipped and hand-edited safetensors must load correctly or be
/// refused with an <see cref="InvalidDataException"/> that names the file and the problem, never another
/// exception, a crash or a leaked native tensor.
/// </summary>
[Collection(LiveTensorsCollection.Name)]
public class HostileModelFileTests(ITestOutputHelper output)
{
    private const int Mutations = 400;

    /// <summary>A small real model file: IRN ×2, one block, growth 8 (about 8 KB of weights).</summary>
    private static byte[] TinyModel()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tiny-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var gen = new Generator(11);
            using var net = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [1], Growth = 8 }, gen);
            ModelFile.Save(net, path);
            return File.ReadAllBytes(path);
        }
        finally { File.Delete(path); }
    }

    private static RescaleNetwork Load(byte[] bytes, string name) => ModelFile.Load(SafetensorsFile.Parse(bytes, name));

    private static InvalidDataException Refused(byte[] bytes, string name = "hostile.safetensors")
    {
        var e = Assert.Throws<InvalidDataException>(() => Load(bytes, name).Dispose());
        Assert.StartsWith(name + ": ", e.Message);
        return e;
    }

    [Fact]
    public void Mutated_model_files_load_or_are_refused_clearly_without_leaking()
    {
        byte[] model = TinyModel();
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(model);
        var rnd = new Random(20261126);
        int loaded = 0, refused = 0;
        var wrong = new List<string>();
        // The count is process-wide: this class runs alone (the live-tensors collection) after other tests' garbage is finalized.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long liveBefore = LiveTensorsCollection.LiveTensors;
        for (int i = 0; i < Mutations; i++)
        {
            var b = (byte[])model.Clone();
            string kind;
            switch (i % 4)
            {
                case 0:
                    kind = "cut";
                    b = b[..rnd.Next(0, b.Length)];
                    break;
                case 1:
                    // Half the flips land in the 8-byte length and the JSON header, where they change the structure.
                    kind = "flip";
                    for (int f = 1 + rnd.Next(4); f > 0; f--)
                        b[i % 8 < 4 ? rnd.Next(headerEnd) : rnd.Next(b.Length)] ^= (byte)(1 << rnd.Next(8));
                    break;
                case 2:
                    kind = "overwrite";
                    int start = rnd.Next(headerEnd), len = Math.Min(b.Length - start, 1 + rnd.Next(16));
                    rnd.NextBytes(b.AsSpan(start, len));
                    break;
                default:
                    kind = "length";
                    ulong[] lengths = [0, 1, 7, (ulong)(headerEnd - 9), (ulong)(headerEnd - 7), (ulong)b.Length, ulong.MaxValue, 1UL << 40, (ulong)rnd.Next(headerEnd)];
                    BinaryPrimitives.WriteUInt64LittleEndian(b, lengths[rnd.Next(lengths.Length)]);
                    break;
            }
            string name = $"mut{i:000}-{kind}.safetensors";
            try
            {
                using var net = Load(b, name);
                loaded++;
            }
            catch (InvalidDataException e) when (e.Message.StartsWith(name + ": ", StringComparison.Ordinal))
            {
                refused++;
            }
            catch (Exception e)
            {
                wrong.Add($"{name}: {e.GetType().Name}: {e.Message}");
            }
        }
        output.WriteLine($"{Mutations} mutations: {loaded} loaded, {refused} refused with InvalidDataException");
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        Assert.Equal(Mutations, loaded + refused);
        Assert.True(refused > Mutations / 2, $"only {refused} refused");
        Assert.True(loaded > 0, "no mutation loaded (flips in the weights should)");
        long left = LiveTensorsCollection.LiveTensors - liveBefore;
        Assert.True(left == 0, $"{left} tensors created while loading {loaded} and refusing {refused} files were not disposed");
    }

    /// <summary>The file with its JSON header replaced by <paramref name="edit"/>'s result (data bytes unchanged).</summary>
    private static byte[] EditHeader(byte[] file, Action<JsonObject> edit)
    {
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var header = JsonNode.Parse(file.AsSpan(8, n))!.AsObject();
        edit(header);
        string json = header.ToJsonString();
        while (Encoding.UTF8.GetByteCount(json) % 8 != 0) json += " ";
        byte[] h = Encoding.UTF8.GetBytes(json);
        var result = new byte[8 + h.Length + file.Length - 8 - n];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)h.Length);
        h.CopyTo(result, 8);
        file.AsSpan(8 + n).CopyTo(result.AsSpan(8 + h.Length));
        return result;
    }

    private static JsonObject Meta(JsonObject header) => header["__metadata__"]!.AsObject();

    [Fact]
    public void The_unedited_tiny_model_loads()
    {
        using var net = Load(TinyModel(), "tiny.safetensors");
        Assert.Equal("IRN", net.Architecture);
    }

    [Fact]
    public void Truncated_file_and_header_length_past_the_end_are_refused()
    {
        byte[] model = TinyModel();
        Assert.Contains("truncated", Refused(model[..(model.Length - 4)]).Message);
        var b = (byte[])model.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)b.Length);
        Assert.Contains($"header length {b.Length} goes past the end of the {b.Length}-byte file", Refused(b).Message);
        BinaryPrimitives.WriteUInt64LittleEndian(b, ulong.MaxValue);
        Assert.Contains("goes past the end", Refused(b).Message);
    }

    [Fact]
    public void Overlapping_offsets_are_refused()
    {
        byte[] b = EditHeader(TinyModel(), h =>
        {
            // Point the second tensor at the first one's bytes (same length, so only the overlap is wrong).
            var names = h.Where(kv => kv.Key != "__metadata__").Select(kv => kv.Key).ToList();
            var first = h[names[0]]!["data_offsets"]!.AsArray();
            var second = h[names[1]]!.AsObject();
            long len = second["data_offsets"]![1]!.GetValue<long>() - second["data_offsets"]![0]!.GetValue<long>();
            long start = first[0]!.GetValue<long>();
            second["data_offsets"] = new JsonArray(start, start + len);
        });
        Assert.Contains("overlaps", Refused(b).Message);
    }

    [Fact]
    public void Wrong_dtypes_are_refused()
    {
        string victim = "";
        byte[] asInt = EditHeader(TinyModel(), h =>
        {
            var (name, entry) = h.First(kv => kv.Key != "__metadata__" && kv.Key.EndsWith("conv1.weight", StringComparison.Ordinal));
            victim = name;
            entry!["dtype"] = "I32"; // same element size: the file is well formed, but weights are not integers
        });
        var e = Refused(asInt);
        Assert.Contains("weights must be floating point", e.Message);
        Assert.Contains($"{victim} (I32)", e.Message);

        byte[] asDouble = EditHeader(TinyModel(), h => h.First(kv => kv.Key != "__metadata__").Value!["dtype"] = "F64");
        Assert.Contains("of F64 needs", Refused(asDouble).Message);
        byte[] unknown = EditHeader(TinyModel(), h => h.First(kv => kv.Key != "__metadata__").Value!["dtype"] = "Q4_K");
        Assert.Contains("unsupported dtype 'Q4_K'", Refused(unknown).Message);
    }

    [Theory]
    [InlineData("block_num", "[2]", "disagrees with the tensors")]
    [InlineData("gc", "16", "disagrees with the tensors")]
    [InlineData("model", "SAIN", "lacks 'e_blocks'")]
    [InlineData("scale", "4", "the architecture metadata is inconsistent")]
    [InlineData("scale", "3", "metadata 'scale' = 3 is not 2, 4 or 8")]
    [InlineData("gc", "100000000", "metadata 'gc' = 100000000 is outside [1, 1024]")]
    [InlineData("block_num", "[1000000]", "metadata 'block_num' = 1000000 is outside [0, 64]")]
    [InlineData("block_num", "[99999999999]", "is not a 32-bit integer")]
    [InlineData("clamp", "NaN", "metadata 'clamp' = NaN is not in (0, 100]")]
    [InlineData("format", "mlnet-rescale/9", "is not supported by this version")]
    public void Architecture_metadata_that_disagrees_with_the_tensors_is_refused(string key, string value, string expected)
    {
        byte[] b = EditHeader(TinyModel(), h => Meta(h)[key] = value);
        Assert.Contains(expected, Refused(b).Message);
    }

    [Fact]
    public void Metadata_disagreement_lists_the_tensors()
    {
        byte[] b = EditHeader(TinyModel(), h => Meta(h)["block_num"] = "[2]");
        var e = Refused(b);
        Assert.Contains("missing", e.Message);
        Assert.Contains("operations.2.", e.Message);
        Assert.Contains("block_num=[2]", e.Message);
    }

    [Fact]
    public void NaN_and_infinite_weights_are_refused_naming_the_tensors()
    {
        byte[] model = TinyModel();
        var file = SafetensorsFile.Parse(model, "tiny");
        var entries = file.Entries.Where(e => e.DType == "F32").ToList();
        int dataStart = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(model);
        var b = (byte[])model.Clone();
        BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(dataStart + (int)entries[1].Begin + 4), float.NaN);
        BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(dataStart + (int)entries[2].Begin), float.PositiveInfinity);
        BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(dataStart + (int)entries[2].Begin + 8), float.NegativeInfinity);
        var e = Refused(b);
        Assert.Contains("weights are not finite", e.Message);
        Assert.Contains($"{entries[1].Name} (1 NaN)", e.Message);
        Assert.Contains($"{entries[2].Name} (2 infinite)", e.Message);
    }
}
