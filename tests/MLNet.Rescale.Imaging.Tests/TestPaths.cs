namespace MLNet.Rescale.Imaging.Tests;

/// Fixture shortcuts on top of the shared MLNet.Rescale.Tests.Shared.TestPaths.
internal static class Fixtures
{
    public static string Conformance(string file) => TestPaths.Conformance(file);

    public static string Image(string file) => TestPaths.Image(file);

    /// <summary>A file of tests/fixtures/codecs (written by the system libraries the codecs replaced; see its README).</summary>
    public static string Codec(string file) => Path.Combine(TestPaths.Fixtures, "codecs", file);
}

/// A temporary directory deleted on dispose.
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mlnet-imaging-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
