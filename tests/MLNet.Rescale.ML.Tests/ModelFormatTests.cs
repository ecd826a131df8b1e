using System.IO.Compression;
using System.Text;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Core;
using MLNet.Rescale.ML.Model;
using MLNet.Rescale.ML.Rescaling;

namespace MLNet.Rescale.ML.Tests;

[Collection(SmallImagesCollection.Name)]
public sealed class ModelFormatTests(SmallImages small)
{
    private static string ShippedX2 => Path.Combine(TestPaths.RepoRoot, "models", "irn-x2.safetensors");
    private readonly RescaleContext ml = new(seed: 1);

    [Fact]
    public void A_chain_round_trips_with_one_copy_of_a_shared_network()
    {
        var pipeline = ml.Transforms.LoadImages("Image", null, "ImagePath")
            .Append(ml.Rescaling.InvertibleDownscaler(ShippedX2))
            .Append(ml.Transforms.CompressImages("LR", ImageFormat.Webp, 80))
            .Append(ml.Rescaling.CompressionAwareUpscaler(new CompressionAwareUpscaler.Options { Seed = 2 }));
        var data = ml.Data.LoadFromDirectory(small.Folder);
        var model = pipeline.Fit(data);
        string path = small.TempFile("pipeline.zip");
        ml.Model.Save(model, data.Schema, path);
        using (var zip = ZipFile.OpenRead(path))
            Assert.Equal(["manifest.json", "networks/net0.safetensors"], zip.Entries.Select(e => e.FullName).Order());
        var loaded = (TransformerChain<ITransformer>)ml.Model.Load(path, out var schema);
        Assert.Equal(["ImagePath"], schema.Select(c => c.Name));
        Assert.Equal(4, loaded.Count());
        var nets = loaded.OfType<InvertibleDownscalerTransformer>().Select(t => t.Network)
            .Concat(loaded.OfType<CompressionAwareUpscalerTransformer>().Select(t => t.Network)).ToList();
        Assert.Same(nets[0], nets[1]);
        EstimatorChecks.AssertSameRows(model.Transform(data), loaded.Transform(data));
        // The network entry is a model file of its own.
        using (var zip = ZipFile.OpenRead(path))
        using (var s = zip.GetEntry("networks/net0.safetensors")!.Open())
        {
            var tmp = small.TempFile("net.safetensors");
            using (var f = File.Create(tmp)) s.CopyTo(f);
            using var net = ModelFile.Load(tmp);
            Assert.Equal(("IRN", 2), (net.Architecture, net.Scale));
        }
    }

    private string Zip(params (string Name, string Text)[] entries)
    {
        string path = small.TempFile("crafted.zip");
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, text) in entries)
        {
            using var s = zip.CreateEntry(name).Open();
            s.Write(Encoding.UTF8.GetBytes(text));
        }
        return path;
    }

    [Fact]
    public void A_newer_version_is_refused_naming_the_file()
    {
        var path = Zip(("manifest.json", """{"format":"mlnet-rescale-pipeline","version":2,"transformer":{"kind":"TransformerChain","children":[]}}"""));
        var e = Assert.Throws<InvalidDataException>(() => ml.Model.Load(path, out _));
        Assert.Contains(path, e.Message);
        Assert.Contains("version 2", e.Message);
        Assert.Contains("newer", e.Message);
    }

    [Fact]
    public void Foreign_files_are_refused_naming_the_file()
    {
        var noManifest = Zip(("model.json", "{}"));
        Assert.Contains("no manifest.json", Assert.Throws<InvalidDataException>(() => ml.Model.Load(noManifest, out _)).Message);
        var otherFormat = Zip(("manifest.json", """{"format":"ml.net","version":1}"""));
        var e = Assert.Throws<InvalidDataException>(() => ml.Model.Load(otherFormat, out _));
        Assert.Contains(otherFormat, e.Message);
        Assert.Contains("'ml.net'", e.Message);
        var notZip = small.TempFile("model.zip");
        File.WriteAllText(notZip, "hello");
        Assert.Contains("not a zip", Assert.Throws<InvalidDataException>(() => ml.Model.Load(notZip, out _)).Message);
        var unknownKind = Zip(("manifest.json", """{"format":"mlnet-rescale-pipeline","version":1,"transformer":{"kind":"Teleport","options":{}}}"""));
        Assert.Contains("unknown transformer kind 'Teleport'", Assert.Throws<InvalidDataException>(() => ml.Model.Load(unknownKind, out _)).Message);
        var badJson = Zip(("manifest.json", "{nope"));
        Assert.Contains("not valid JSON", Assert.Throws<InvalidDataException>(() => ml.Model.Load(badJson, out _)).Message);
    }

    [Theory]
    [InlineData("../evil.txt")]
    [InlineData("networks/../../evil.safetensors")]
    [InlineData("/etc/evil")]
    public void Entries_with_path_traversal_are_refused(string entry)
    {
        var path = Zip(("manifest.json", """{"format":"mlnet-rescale-pipeline","version":1,"transformer":{"kind":"TransformerChain","children":[]}}"""), (entry, "x"));
        var e = Assert.Throws<InvalidDataException>(() => ml.Model.Load(path, out _));
        Assert.Contains(path, e.Message);
        Assert.Contains(entry, e.Message);
    }

    private sealed class Unsavable : ITransformer
    {
        public Data.DataViewSchema GetOutputSchema(Data.DataViewSchema inputSchema) => inputSchema;
        public Data.IDataView Transform(Data.IDataView input) => input;
        public bool IsRowToRowMapper => true;
        public void Save(ModelSaveContext ctx) => throw new NotSupportedException("cannot save");
    }

    [Fact]
    public void A_failed_save_leaves_the_previous_file_and_no_temporary()
    {
        var model = ml.Transforms.ConvertToGrayscale("Grey", "Image").Fit(small.InMemory(ml));
        string path = small.TempFile("model.zip");
        ml.Model.Save(model, null, path);
        var before = File.ReadAllBytes(path);
        Assert.Throws<NotSupportedException>(() => ml.Model.Save(model.Append(new Unsavable()), null, path));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));
    }
}
