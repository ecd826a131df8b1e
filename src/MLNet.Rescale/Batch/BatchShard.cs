using System.Globalization;
using System.Text;

namespace MLNet.Rescale.Batch;

/// <summary>
/// One worker's share of an image store: shard <see cref="Index"/> of <see cref="Count"/>, the way array jobs split
/// work (a Kubernetes Indexed Job, an AWS Batch array job, a Slurm job array). Every file belongs to exactly one shard,
/// chosen from its path relative to the store's root alone, so workers need no coordination: each lists the store and
/// keeps its own files.
/// </summary>
/// <remarks>
/// A file's shard is Lamping and Veach's jump consistent hash of the 64-bit FNV-1a hash of its relative path's UTF-8
/// bytes, with '/' as separator on every system. Both functions are fixed (unlike <see cref="string.GetHashCode()"/>,
/// which differs per process), so every worker of every machine agrees; adding or removing files moves no other file,
/// and raising the count from N to N + 1 moves only about 1/(N + 1) of the files, all to the new shard.
/// </remarks>
/// <param name="Index">The shard, 0 ≤ Index &lt; Count.</param>
/// <param name="Count">How many shards the store is split into, at least 1.</param>
public readonly record struct BatchShard(int Index, int Count)
{
    /// <summary>The environment variable that gives the shard count where the orchestrator does not (Kubernetes).</summary>
    public const string CountVariable = "RESCALE_SHARD_COUNT";

    /// <summary>The whole store: shard 0 of 1.</summary>
    public static BatchShard All => new(0, 1);

    /// <summary>Whether <paramref name="relativePath"/> (relative to the store's root, either separator) is in this shard.</summary>
    public bool Owns(string relativePath) => Count <= 1 || Of(relativePath, Count) == Index;

    /// <summary>The shard of <paramref name="relativePath"/> when the store is split into <paramref name="count"/> shards.</summary>
    /// <param name="relativePath">A path relative to the store's root; '\' and '/' both separate folders.</param>
    /// <param name="count">The number of shards, at least 1.</param>
    public static int Of(string relativePath, int count)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        return JumpHash(Fnv1a64(NormalizePath(relativePath)), count);
    }

    /// <summary>The relative path as shards see it: '/' between folders, no leading "./" or separator.</summary>
    public static string NormalizePath(string relativePath)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        string p = relativePath.Replace('\\', '/');
        while (p.StartsWith("./", StringComparison.Ordinal)) p = p[2..];
        return p.TrimStart('/');
    }

    /// <summary>
    /// Parses <c>I/N</c> (0 ≤ I &lt; N), as <c>--shard</c> takes it.
    /// </summary>
    /// <exception cref="FormatException">The text is not I/N with integers 0 ≤ I &lt; N; the message says what is wrong.</exception>
    public static BatchShard Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !TryInt(text[..slash], out int index) || !TryInt(text[(slash + 1)..], out int count))
            throw new FormatException($"shard must be I/N with integers 0 ≤ I < N (e.g. 0/4), got '{text}'");
        if (count < 1) throw new FormatException($"shard count must be at least 1, got '{text}'");
        if (index >= count) throw new FormatException($"shard index must be below the count (0 ≤ I < N), got '{text}'");
        return new BatchShard(index, count);
    }

    /// <summary>
    /// The shard an array job's orchestrator gives this process, or null when none does. Read, in this order:
    /// <c>JOB_COMPLETION_INDEX</c> (a Kubernetes Indexed Job; Kubernetes does not export the completion count, so the
    /// count comes from <paramref name="count"/> or <see cref="CountVariable"/>), <c>AWS_BATCH_JOB_ARRAY_INDEX</c> (with
    /// <c>AWS_BATCH_JOB_ARRAY_SIZE</c>), <c>SLURM_ARRAY_TASK_ID</c> (with <c>SLURM_ARRAY_TASK_COUNT</c>, counted from
    /// <c>SLURM_ARRAY_TASK_MIN</c> in steps of <c>SLURM_ARRAY_TASK_STEP</c>). <paramref name="count"/>, then
    /// <see cref="CountVariable"/>, override the orchestrator's own count.
    /// </summary>
    /// <param name="environment">Reads a variable (null when unset); null reads the process's environment.</param>
    /// <param name="count">The shard count given by the caller (e.g. <c>--shard-count</c>), or null.</param>
    /// <param name="source">The variable the index came from, for messages (null when none is set).</param>
    /// <exception cref="FormatException">A variable holds a bad value, the count is unknown, or the index is not below it; the message names the variable.</exception>
    public static BatchShard? FromEnvironment(Func<string, string?>? environment, int? count, out string? source)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string? Get(string name) => environment(name) is { } v && v.Trim().Length > 0 ? v.Trim() : null;
        int Int(string name, string value) => TryInt(value, out int v)
            ? v : throw new FormatException($"{name} must be a non-negative integer, got '{value}'");

        int? countOverride = count;
        if (countOverride is null && Get(CountVariable) is { } fromVariable)
        {
            countOverride = Int(CountVariable, fromVariable);
        }
        if (countOverride is < 1)
            throw new FormatException($"the shard count ({(count is null ? CountVariable : "--shard-count")}) must be at least 1, got {countOverride}");

        source = null;
        int index;
        int? orchestratorCount = null;
        string countName;
        if (Get("JOB_COMPLETION_INDEX") is { } k8s)
        {
            source = "JOB_COMPLETION_INDEX";
            index = Int(source, k8s);
            countName = CountVariable;
        }
        else if (Get("AWS_BATCH_JOB_ARRAY_INDEX") is { } aws)
        {
            source = "AWS_BATCH_JOB_ARRAY_INDEX";
            index = Int(source, aws);
            countName = "AWS_BATCH_JOB_ARRAY_SIZE";
            if (Get(countName) is { } size) orchestratorCount = Int(countName, size);
        }
        else if (Get("SLURM_ARRAY_TASK_ID") is { } slurm)
        {
            source = "SLURM_ARRAY_TASK_ID";
            int id = Int(source, slurm);
            int min = Get("SLURM_ARRAY_TASK_MIN") is { } m ? Int("SLURM_ARRAY_TASK_MIN", m) : 0;
            int step = Get("SLURM_ARRAY_TASK_STEP") is { } s ? Int("SLURM_ARRAY_TASK_STEP", s) : 1;
            if (step < 1) throw new FormatException($"SLURM_ARRAY_TASK_STEP must be at least 1, got {step}");
            if (id < min || (id - min) % step != 0)
                throw new FormatException($"SLURM_ARRAY_TASK_ID {id} is not in the array that starts at SLURM_ARRAY_TASK_MIN {min} with step {step}");
            index = (id - min) / step;
            countName = "SLURM_ARRAY_TASK_COUNT";
            if (Get(countName) is { } c) orchestratorCount = Int(countName, c);
        }
        else
        {
            return null;
        }

        int total = countOverride ?? orchestratorCount
            ?? throw new FormatException($"{source} is set ({index}) but the shard count is not: pass --shard-count N or set {CountVariable}"
                + (countName == CountVariable ? "" : $" or {countName}"));
        if (total < 1) throw new FormatException($"{countName} must be at least 1, got {total}");
        if (index >= total)
            throw new FormatException($"{source} gives shard {index}, but there are only {total} shards (0..{total - 1})");
        return new BatchShard(index, total);
    }

    /// <summary><c>I/N</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    private static bool TryInt(string text, out int value) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out value);

    /// <summary>64-bit FNV-1a of the UTF-8 bytes (offset basis 14695981039346656037, prime 1099511628211).</summary>
    internal static ulong Fnv1a64(string text)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return hash;
    }

    /// <summary>Jump consistent hash (Lamping and Veach, 2014): a bucket in [0, buckets) for a 64-bit key.</summary>
    internal static int JumpHash(ulong key, int buckets)
    {
        long b = -1, j = 0;
        while (j < buckets)
        {
            b = j;
            key = key * 2862933555777941757UL + 1;
            j = (long)((b + 1) * ((double)(1L << 31) / ((key >> 33) + 1)));
        }
        return (int)b;
    }
}
