using System.Buffers.Binary;
using System.Text.RegularExpressions;
using MLNet.Rescale.Imaging;

namespace MLNet.Rescale.Batch;

/// <summary>
/// Downscales a whole image store, folder tree mirrored, one shard at a time: <see cref="Plan"/> lists this shard's
/// images and which are up to date, <see cref="RemoveStaleTemporaryFiles"/> clears what a killed worker left, and
/// <see cref="RunAsync"/> downscales the rest, each output written atomically (a temporary file in the same folder, then
/// a rename), so a rerun after any crash skips what is done and finishes the shard.
/// </summary>
public static partial class ImageBatch
{
    /// <summary>
    /// Lists the images of <paramref name="options"/>' input folder (recursively, hidden files and folders left out) that
    /// belong to its shard, with their output paths and whether each output is up to date: present, complete (its
    /// format's end marker or stated length is there) and not older than the input.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The input folder does not exist.</exception>
    /// <exception cref="ArgumentException">The folders are the same, or one lies inside the other.</exception>
    public static BatchPlan Plan(BatchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string input = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.InputFolder));
        string output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.OutputFolder));
        if (!Directory.Exists(input)) throw new DirectoryNotFoundException($"{options.InputFolder}: input folder does not exist");
        if (File.Exists(output)) throw new ArgumentException($"{options.OutputFolder}: the output folder is a file");
        if (Inside(output, input) || Inside(input, output))
            throw new ArgumentException(input == output
                ? $"{options.OutputFolder}: the output folder must differ from the input folder"
                : $"{options.OutputFolder}: the output and input folders must not lie inside one another (outputs would become inputs)");
        options = options with { InputFolder = input, OutputFolder = output };

        var enumeration = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System };
        var all = new List<(string Relative, FileInfo File, string OutputRelative)>();
        foreach (var file in new DirectoryInfo(input).EnumerateFiles("*", enumeration))
        {
            if (ImageFile.FormatFromExtension(file.Name) is null) continue;
            string relative = BatchShard.NormalizePath(Path.GetRelativePath(input, file.FullName));
            all.Add((relative, file, OutputRelative(relative, options.Format)));
        }
        all.Sort((a, b) => string.CompareOrdinal(a.Relative, b.Relative));

        // Two inputs may map to one output (a.png and a.jpg with a format given): the first in ordinal order writes it,
        // in every shard's plan alike, and the others are reported.
        var owner = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in all) owner.TryAdd(f.OutputRelative, f.Relative);

        var items = new List<BatchItem>();
        foreach (var (relative, file, outputRelative) in all)
        {
            if (!options.Shard.Owns(relative)) continue;
            string outputPath = Path.Combine(output, outputRelative);
            string first = owner[outputRelative];
            string? conflict = first == relative ? null
                : $"{file.FullName}: its output {outputPath} is also {Path.Combine(input, first)}'s; rename one of them";
            bool upToDate = conflict is null && !options.Force && IsUpToDate(file, outputPath);
            items.Add(new BatchItem(relative, file.FullName, outputPath, file.Length, upToDate, conflict));
        }
        return new BatchPlan(options, items, all.Count, owner);
    }

    /// <summary>
    /// Deletes the temporary files that interrupted writes of this shard's outputs left in the output folder (a worker
    /// killed mid-write leaves one; the output itself is never partial). Temporary files of other shards' outputs are
    /// left alone, since their workers may be writing them right now. Returns how many were deleted.
    /// </summary>
    public static int RemoveStaleTemporaryFiles(BatchPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        string output = plan.Options.OutputFolder;
        if (!Directory.Exists(output)) return 0;
        var enumeration = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 };
        int removed = 0;
        foreach (var tmp in Directory.EnumerateFiles(output, ".*.tmp", enumeration))
        {
            var match = TemporaryName().Match(Path.GetFileName(tmp));
            if (!match.Success) continue;
            string outputRelative = BatchShard.NormalizePath(Path.Combine(Path.GetRelativePath(output, Path.GetDirectoryName(tmp)!), match.Groups[1].Value));
            // An output no input maps to any more is ours to clean only when this worker has the whole store.
            bool ours = plan.OwnerOfOutput.TryGetValue(outputRelative, out var input) ? plan.Options.Shard.Owns(input) : plan.Options.Shard.Count == 1;
            if (!ours) continue;
            try
            {
                File.Delete(tmp);
                removed++;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    /// <summary>
    /// Whether <paramref name="path"/> holds a whole image file as far as its ends tell: PNG ends with IEND, JPEG with
    /// its end-of-image marker, WebP and BMP state their length, which must match. A truncated copy fails; the pixels
    /// are not decoded.
    /// </summary>
    internal static bool IsComplete(string path)
    {
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1);
            long length = fs.Length;
            // 32 bytes hold every format's signature (BMP's needs 26); no whole image file of ours is shorter.
            if (length < 32) return false;
            Span<byte> head = stackalloc byte[32], tail = stackalloc byte[12];
            fs.ReadExactly(head);
            fs.Seek(length - tail.Length, SeekOrigin.Begin);
            fs.ReadExactly(tail);
            return ImageFile.DetectFormat(head) switch
            {
                ImageFormat.Png => tail.SequenceEqual(PngEnd),
                ImageFormat.Jpeg => tail[^2] == 0xFF && tail[^1] == 0xD9,
                ImageFormat.Webp => BinaryPrimitives.ReadUInt32LittleEndian(head[4..]) + 8L == length,
                ImageFormat.Bmp => BinaryPrimitives.ReadUInt32LittleEndian(head[2..]) == length,
                _ => false,
            };
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static ReadOnlySpan<byte> PngEnd => [0, 0, 0, 0, (byte)'I', (byte)'E', (byte)'N', (byte)'D', 0xAE, 0x42, 0x60, 0x82];

    private static bool IsUpToDate(FileInfo input, string outputPath)
    {
        var output = new FileInfo(outputPath);
        return output.Exists && output.LastWriteTimeUtc >= input.LastWriteTimeUtc && IsComplete(outputPath);
    }

    /// <summary>The output's path relative to the output folder: the input's, with the format's extension when one is set.</summary>
    internal static string OutputRelative(string relative, ImageFormat? format) => format switch
    {
        null => relative,
        ImageFormat.Jpeg => Path.ChangeExtension(relative, ".jpg"),
        var f => Path.ChangeExtension(relative, "." + f.Value.ToString().ToLowerInvariant()),
    };

    private static bool Inside(string path, string folder) =>
        path == folder || path.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    // ImageFile.WriteAtomically's temporary name: ".<name>.<32 hex digits>.tmp" beside the output.
    [GeneratedRegex(@"^\.(.+)\.[0-9a-f]{32}\.tmp$")]
    private static partial Regex TemporaryName();
}
