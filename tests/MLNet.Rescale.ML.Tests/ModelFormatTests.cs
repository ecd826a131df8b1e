using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Rescale.ML.Rescaling;
using MLNet.Rescale.IO;
using static TorchSharp.torch;

namespace MLNet.Rescale.ML.Tests;

/// <summary>
/// Our parts inside ML.NET's model zips: each transformer is a versioned part with its network as a model-file entry
/// beside it; a part too new, a truncated or missing entry, or weights that disagree with the recorded architecture is
/// an error naming the part, never a crash.
/// </summary>
[Collection(SmallImagesCollection.Name)]
public sealed class ModelFormatTests(SmallImages small)
{
    private static string ShippedX2 => Path.Combine(TestPaths.RepoRoot, "models", "irn-x2.safetensors");
    private readonly MLContext ml = new(seed: 1);

    private (ITransformer Model, IDataView Data, string Zip) SavedChain()
    {
        var pipeline = ml.Transforms.LoadImages("Image", null, "ImagePath")
            .Append(ml.Transforms.InvertibleDownscaler(ShippedX2))
            .Append(ml.Transforms.CompressImages("LR", "LR", "webp:80"))
            .Append(ml.Transforms.CompressionAwareUpscaler(new CompressionAwareUpscaler.Options { Seed = 2 }));
        var data = small.Paths(ml);
        var model = pipeline.Fit(data);
        string path = small.TempFile("pipeline.zip");
        ml.Model.Save(model, data.Schema, path);
        return (model, data, path);
    }

    private static string[] NetworkEntries(string zip)
    {
        using var archive = ZipFile.OpenRead(zip);
        return archive.Entries.Select(e => e.FullName).Where(n => n.EndsWith("/Network.safetensors", StringComparison.Ordinal)).Order().ToArray();
    }

    /// <summary>A copy of <paramref name="zip"/> with one entry's bytes changed.</summary>
    private string Edited(string zip, string entryName, Func<byte[], byte[]> edit)
    {
        string copy = small.TempFile("edited.zip");
        File.Copy(zip, copy);
        using var archive = ZipFile.Open(copy, ZipArchiveMode.Update);
        var entry = archive.GetEntry(entryName)!;
        byte[] bytes;
        using (var s = entry.Open())
        using (var buffer = new MemoryStream())
        {
            s.CopyTo(buffer);
            bytes = buffer.ToArray();
        }
        entry.Delete();
        using (var s = archive.CreateEntry(entryName).Open()) s.Write(edit(bytes));
        return copy;
    }

    /// <summary>The message of the exception and every inner one (ML.NET's loader calls ours by reflection).</summary>
    /// <summary>A copy of <paramref name="zip"/> with a network entry changed and the SHA-256 its part records updated to match.</summary>
    private string EditedNetwork(string zip, string entry, Func<byte[], byte[]> edit)
    {
        byte[] before, after;
        using (var archive = ZipFile.OpenRead(zip))
        using (var s = archive.GetEntry(entry)!.Open())
        using (var buffer = new MemoryStream())
        {
            s.CopyTo(buffer);
            before = buffer.ToArray();
        }
        after = edit(before);
        string partKey = entry.Replace("Network.safetensors", "Model.key", StringComparison.Ordinal);
        var edited = Edited(zip, entry, _ => after);
        // The part's string table holds the hex SHA-256 as UTF-16: swap it for the new one (same length).
        byte[] oldHash = System.Text.Encoding.Unicode.GetBytes(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(before)));
        byte[] newHash = System.Text.Encoding.Unicode.GetBytes(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(after)));
        string result = Edited(edited, partKey, key =>
        {
            int at = key.AsSpan().IndexOf(oldHash);
            Assert.True(at >= 0, "the part does not record its network's SHA-256");
            newHash.CopyTo(key, at);
            return key;
        });
        return result;
    }

    private static string Messages(Exception e) => e.InnerException is null ? e.Message : e.Message + " | " + Messages(e.InnerException);

    [Fact]
    public void A_chain_round_trips_and_the_loaded_parts_share_one_network()
    {
        var (model, data, zip) = SavedChain();
        var entries = NetworkEntries(zip);
        Assert.Single(entries);   // the downscaler's; the upscaler, sharing its network, refers to it
        var loaded = (TransformerChain<ITransformer>)new MLContext().Model.Load(zip, out var schema);
        Assert.Equal(["ImagePath"], schema.Select(c => c.Name));
        Assert.Equal(4, loaded.Count());
        // Byte-identical weights load once: the loaded downscaler and upscaler hold the same network, as when fitted.
        Assert.Same(loaded.OfType<InvertibleDownscalerTransformer>().Single().Network, loaded.OfType<CompressionAwareUpscalerTransformer>().Single().Network);
        EstimatorChecks.AssertSameRows(model.Transform(data), loaded.Transform(data));
        // A network entry is a model file of its own.
        using (var archive = ZipFile.OpenRead(zip))
        using (var s = archive.GetEntry(entries[0])!.Open())
        {
            var tmp = small.TempFile("net.safetensors");
            using (var f = File.Create(tmp)) s.CopyTo(f);
            using var net = ModelFile.Load(tmp);
            Assert.Equal(("IRN", 2), (net.Architecture, net.Scale));
        }
        loaded.Dispose();
        (model as IDisposable)?.Dispose();
    }

    [Fact]
    public void A_zip_saved_with_ML_NET_5_gives_the_same_images_when_loaded_today()
    {
        // Saved by main at ed48bec on ML.NET 5.0.1 (tests/fixtures/models/README.md): downscaler, HCD, JPEG 75, upscaler.
        string folder = Path.Combine(TestPaths.Fixtures, "models");
        using var model = (IDisposable)ml.Model.Load(Path.Combine(folder, "ml501-pipeline.zip"), out _);
        var full = Imaging.ImageFile.Read(TestPaths.Image("bird.png"));
        var bird = full.Crop((full.Width - 64) / 2, (full.Height - 64) / 2, 64, 64);
        var output = ((ITransformer)model).Transform(ml.FromImages([bird]));
        Assert.Equal(Imaging.ImageFile.Read(Path.Combine(folder, "ml501-pipeline-lr.png")).Data, output.ReadImages("LR")[0].Data);
        Assert.Equal(Imaging.ImageFile.Read(Path.Combine(folder, "ml501-pipeline-upscaled.png")).Data, output.ReadImages("Upscaled")[0].Data);
    }

    [Fact]
    public void A_part_written_by_a_newer_version_is_refused_naming_the_component()
    {
        var (model, _, zip) = SavedChain();
        (model as IDisposable)?.Dispose();
        string part = NetworkEntries(zip)[0].Replace("Network.safetensors", "Model.key", StringComparison.Ordinal);
        // ModelHeader: the part's version written and readable are the uint32s at 0x48 and 0x4C.
        var newer = Edited(zip, part, bytes =>
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(0x48), 0x00020001);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(0x4C), 0x00020001);
            return bytes;
        });
        var e = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(newer, out _));
        Assert.Contains("too new", Messages(e));
        Assert.Contains("Rescale", Messages(e));
    }

    [Fact]
    public void A_truncated_missing_or_inconsistent_network_entry_is_an_error_naming_the_part()
    {
        var (model, _, zip) = SavedChain();
        (model as IDisposable)?.Dispose();
        string entry = NetworkEntries(zip)[0];

        // Damaged in transit: the recorded SHA-256 catches it.
        var damaged = Edited(zip, entry, bytes => { bytes[bytes.Length / 2] ^= 0x40; return bytes; });
        var d = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(damaged, out _));
        Assert.Contains("damaged", Messages(d));
        Assert.Contains(entry, Messages(d));

        // Cut short, with the hash made to match: the model file's own validation refuses it.
        var truncated = EditedNetwork(zip, entry, bytes => bytes[..(bytes.Length / 2)]);
        var e = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(truncated, out _));
        Assert.IsType<InvalidDataException>(Innermost(e));
        Assert.Contains(entry, Messages(e));

        // The same weights under metadata that records 3 blocks where the weights have 8.
        var inconsistent = EditedNetwork(zip, entry, bytes =>
        {
            var file = SafetensorsFile.Parse(bytes, "x");
            var metadata = file.MetadataPairs.Select(kv => kv.Key == "block_num" ? new KeyValuePair<string, string>(kv.Key, "[3]") : kv).ToList();
            using var scope = NewDisposeScope();
            return SafetensorsFile.Serialize(file.LoadAll(), metadata);
        });
        e = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(inconsistent, out _));
        Assert.Contains(entry, Messages(e));
        Assert.Contains("InvertibleDownscaler", Messages(e));

        string missing = small.TempFile("missing.zip");
        File.Copy(zip, missing);
        using (var archive = ZipFile.Open(missing, ZipArchiveMode.Update)) archive.GetEntry(entry)!.Delete();
        e = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(missing, out _));
        Assert.Contains("no network entry", Messages(e));
        Assert.Contains(entry, Messages(e));
    }

    private static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);
}
