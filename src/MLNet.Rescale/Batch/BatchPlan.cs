using MLNet.Rescale.Imaging;

namespace MLNet.Rescale.Batch;

/// <summary>What a batch downscales, from where to where: the folders, the output format and this worker's shard.</summary>
public sealed record BatchOptions
{
    /// <summary>The image store: every PNG, JPEG, WebP and BMP file under it, in any subfolder, is an input (hidden files and folders are not).</summary>
    public required string InputFolder { get; init; }

    /// <summary>Where the LR images go, each at its input's relative path (the extension of <see cref="Format"/> when one is set).</summary>
    public required string OutputFolder { get; init; }

    /// <summary>The format of every output; null (the default) keeps each input's own format and extension.</summary>
    public ImageFormat? Format { get; init; }

    /// <summary>This worker's share of the store (default: all of it).</summary>
    public BatchShard Shard { get; init; } = BatchShard.All;

    /// <summary>Redo images whose output is already up to date.</summary>
    public bool Force { get; init; }
}

/// <summary>One input image of a batch and what will be done with it.</summary>
/// <param name="RelativePath">The input's path relative to the input folder, '/' between folders.</param>
/// <param name="InputPath">The input file's full path.</param>
/// <param name="OutputPath">The output file's full path.</param>
/// <param name="InputBytes">The input's size in bytes when listed.</param>
/// <param name="UpToDate">The output exists, is complete and is not older than the input (so it is skipped unless forced).</param>
/// <param name="Conflict">Why the image cannot be processed (another input maps to the same output), or null.</param>
public sealed record BatchItem(string RelativePath, string InputPath, string OutputPath, long InputBytes, bool UpToDate, string? Conflict);

/// <summary>A batch's work, listed by <see cref="ImageBatch.Plan"/>: this shard's images in ordinal order of their relative paths.</summary>
public sealed class BatchPlan
{
    internal BatchPlan(BatchOptions options, IReadOnlyList<BatchItem> items, int storeImages, IReadOnlyDictionary<string, string> ownerOfOutput)
    {
        Options = options;
        Items = items;
        StoreImages = storeImages;
        OwnerOfOutput = ownerOfOutput;
    }

    /// <summary>The options the plan was made with (folders as full paths).</summary>
    public BatchOptions Options { get; }

    /// <summary>This shard's images.</summary>
    public IReadOnlyList<BatchItem> Items { get; }

    /// <summary>Images in the whole store, all shards together.</summary>
    public int StoreImages { get; }

    /// <summary>This shard's images that will be downscaled (not up to date, not in conflict).</summary>
    public int Pending => Items.Count(i => !i.UpToDate && i.Conflict is null);

    /// <summary>
    /// The plan with only the items <paramref name="predicate"/> keeps (a watching host leaves out what it already tried,
    /// or a file still being written).
    /// </summary>
    public BatchPlan Where(Func<BatchItem, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return new BatchPlan(Options, [.. Items.Where(predicate)], StoreImages, OwnerOfOutput);
    }

    // Output path relative to the output folder → the relative path of the input that writes it (every shard's).
    internal IReadOnlyDictionary<string, string> OwnerOfOutput { get; }
}
