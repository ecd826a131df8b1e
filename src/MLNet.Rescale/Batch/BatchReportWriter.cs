using System.Text;

namespace MLNet.Rescale.Batch;

/// <summary>
/// Writes a batch's manifest, one JSON line per image (<see cref="BatchItemResult.ToJson"/>), into a temporary file
/// beside <see cref="Path"/> as the images finish, and renames it over <see cref="Path"/> on <see cref="Complete"/>: the
/// manifest at that path is always a whole run's, never a killed run's half.
/// </summary>
public sealed class BatchReportWriter : IDisposable
{
    private readonly string temporary;
    private readonly StreamWriter writer;
    private readonly Lock gate = new();
    private bool done;

    /// <summary>Opens the temporary file beside <paramref name="path"/> (creating its folder).</summary>
    /// <exception cref="IOException">The folder or file cannot be created.</exception>
    public BatchReportWriter(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
        string folder = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(folder);
        temporary = System.IO.Path.Combine(folder, $".{System.IO.Path.GetFileName(Path)}.{Guid.NewGuid():N}.tmp");
        writer = new StreamWriter(new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.Read), new UTF8Encoding(false));
    }

    /// <summary>The manifest's full path.</summary>
    public string Path { get; }

    /// <summary>Appends one image's line; safe from any thread.</summary>
    public void Write(BatchItemResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        string line = result.ToJson();
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(done, this);
            writer.Write(line);
            writer.Write('\n');
        }
    }

    /// <summary>Flushes the lines to disk and renames the file to <see cref="Path"/>.</summary>
    public void Complete()
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(done, this);
            writer.Flush();
            ((FileStream)writer.BaseStream).Flush(flushToDisk: true);
            writer.Dispose();
            done = true;
            File.Move(temporary, Path, overwrite: true);
        }
    }

    /// <summary>Closes the file; without <see cref="Complete"/>, the temporary file is deleted and <see cref="Path"/> left as it was.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (done) return;
            done = true;
            writer.Dispose();
            try { File.Delete(temporary); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
