using MLNet.Rescale.Batch;
using Xunit;

namespace MLNet.Rescale.Tests;

public sealed class BatchShardTests
{
    [Fact]
    public void Fnv1a64_matches_the_published_vectors()
    {
        Assert.Equal(0xcbf29ce484222325UL, BatchShard.Fnv1a64(""));
        Assert.Equal(0xaf63dc4c8601ec8cUL, BatchShard.Fnv1a64("a"));
        Assert.Equal(0x85944171f73967e8UL, BatchShard.Fnv1a64("foobar"));
    }

    [Fact]
    public void A_files_shard_never_changes_between_versions()
    {
        // Pinned: a different hash would move files between the shards of a job already under way. (Computed also by an
        // independent Python transcription of FNV-1a and jump consistent hash.)
        Assert.Equal([1, 1, 6, 757], Shards("a.png"));
        Assert.Equal([0, 0, 0, 580], Shards("photos/2024/img_0001.jpg"));
        Assert.Equal([1, 2, 6, 250], Shards("x/y/z.webp"));
        Assert.Equal([1, 1, 4, 659], Shards("café/été.png"));
        static int[] Shards(string path) => [BatchShard.Of(path, 2), BatchShard.Of(path, 3), BatchShard.Of(path, 7), BatchShard.Of(path, 1000)];
    }

    [Fact]
    public void Separators_and_a_leading_dot_slash_do_not_change_the_shard()
    {
        for (int n = 2; n < 40; n++)
        {
            Assert.Equal(BatchShard.Of("a/b/c.png", n), BatchShard.Of("a\\b\\c.png", n));
            Assert.Equal(BatchShard.Of("a/b/c.png", n), BatchShard.Of("./a/b/c.png", n));
        }
    }

    [Fact]
    public void Shards_are_balanced_and_growing_the_count_moves_files_only_to_the_new_shard()
    {
        var paths = Enumerable.Range(0, 20000).Select(i => $"store/{i % 97}/img_{i:D6}.jpg").ToList();
        foreach (int n in new[] { 2, 3, 7, 16 })
        {
            var counts = new int[n];
            foreach (var p in paths) counts[BatchShard.Of(p, n)]++;
            double expected = (double)paths.Count / n;
            Assert.All(counts, c => Assert.InRange(c, expected * 0.9, expected * 1.1));

            // From n to n + 1 shards a file stays or goes to shard n; about 1/(n + 1) of them go.
            int moved = 0;
            foreach (var p in paths)
            {
                int before = BatchShard.Of(p, n), after = BatchShard.Of(p, n + 1);
                if (before == after) continue;
                Assert.Equal(n, after);
                moved++;
            }
            Assert.InRange(moved, paths.Count / (n + 1.0) * 0.85, paths.Count / (n + 1.0) * 1.15);
        }
    }

    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("3/8", 3, 8)]
    [InlineData(" 6 / 7 ", 6, 7)]
    public void Parse_reads_index_and_count(string text, int index, int count) => Assert.Equal(new BatchShard(index, count), BatchShard.Parse(text));

    [Theory]
    [InlineData("3", "I/N")]
    [InlineData("a/4", "I/N")]
    [InlineData("-1/4", "I/N")]
    [InlineData("4/4", "below the count")]
    [InlineData("0/0", "at least 1")]
    [InlineData("1/2/3", "I/N")]
    public void Parse_rejects_bad_values_saying_what_is_wrong(string text, string problem)
    {
        var e = Assert.Throws<FormatException>(() => BatchShard.Parse(text));
        Assert.Contains(problem, e.Message);
        Assert.Contains($"'{text}'", e.Message);
    }

    private static BatchShard? FromEnvironment(Dictionary<string, string> variables, int? count = null) =>
        BatchShard.FromEnvironment(name => variables.GetValueOrDefault(name), count, out _);

    [Fact]
    public void Kubernetes_index_takes_its_count_from_the_option_or_RESCALE_SHARD_COUNT()
    {
        Assert.Equal(new BatchShard(2, 5), FromEnvironment(new() { ["JOB_COMPLETION_INDEX"] = "2", ["RESCALE_SHARD_COUNT"] = "5" }));
        Assert.Equal(new BatchShard(2, 3), FromEnvironment(new() { ["JOB_COMPLETION_INDEX"] = "2", ["RESCALE_SHARD_COUNT"] = "5" }, count: 3));
        var e = Assert.Throws<FormatException>(() => FromEnvironment(new() { ["JOB_COMPLETION_INDEX"] = "2" }));
        Assert.Contains("JOB_COMPLETION_INDEX is set (2) but the shard count is not", e.Message);
        Assert.Contains("RESCALE_SHARD_COUNT", e.Message);
        e = Assert.Throws<FormatException>(() => FromEnvironment(new() { ["JOB_COMPLETION_INDEX"] = "5", ["RESCALE_SHARD_COUNT"] = "5" }));
        Assert.Contains("JOB_COMPLETION_INDEX gives shard 5, but there are only 5 shards", e.Message);
        e = Assert.Throws<FormatException>(() => FromEnvironment(new() { ["JOB_COMPLETION_INDEX"] = "two", ["RESCALE_SHARD_COUNT"] = "5" }));
        Assert.Contains("JOB_COMPLETION_INDEX must be a non-negative integer, got 'two'", e.Message);
        e = Assert.Throws<FormatException>(() => FromEnvironment(new() { ["JOB_COMPLETION_INDEX"] = "0", ["RESCALE_SHARD_COUNT"] = "0" }));
        Assert.Contains("at least 1", e.Message);
    }

    [Fact]
    public void Aws_batch_and_slurm_arrays_give_index_and_count()
    {
        Assert.Equal(new BatchShard(4, 10), FromEnvironment(new() { ["AWS_BATCH_JOB_ARRAY_INDEX"] = "4", ["AWS_BATCH_JOB_ARRAY_SIZE"] = "10" }));
        Assert.Equal(new BatchShard(4, 6), FromEnvironment(new() { ["AWS_BATCH_JOB_ARRAY_INDEX"] = "4", ["RESCALE_SHARD_COUNT"] = "6", ["AWS_BATCH_JOB_ARRAY_SIZE"] = "10" }));
        var e = Assert.Throws<FormatException>(() => FromEnvironment(new() { ["AWS_BATCH_JOB_ARRAY_INDEX"] = "4" }));
        Assert.Contains("AWS_BATCH_JOB_ARRAY_SIZE", e.Message);
        // Slurm arrays often count from 1 (--array=1-8): the index is counted from SLURM_ARRAY_TASK_MIN, in its steps.
        Assert.Equal(new BatchShard(0, 8), FromEnvironment(new() { ["SLURM_ARRAY_TASK_ID"] = "1", ["SLURM_ARRAY_TASK_MIN"] = "1", ["SLURM_ARRAY_TASK_COUNT"] = "8" }));
        Assert.Equal(new BatchShard(7, 8), FromEnvironment(new() { ["SLURM_ARRAY_TASK_ID"] = "8", ["SLURM_ARRAY_TASK_MIN"] = "1", ["SLURM_ARRAY_TASK_COUNT"] = "8" }));
        Assert.Equal(new BatchShard(3, 4), FromEnvironment(new() { ["SLURM_ARRAY_TASK_ID"] = "6", ["SLURM_ARRAY_TASK_STEP"] = "2", ["SLURM_ARRAY_TASK_COUNT"] = "4" }));
        Assert.Equal(new BatchShard(3, 4), FromEnvironment(new() { ["SLURM_ARRAY_TASK_ID"] = "3", ["SLURM_ARRAY_TASK_COUNT"] = "4" }));
        e = Assert.Throws<FormatException>(() => FromEnvironment(new() { ["SLURM_ARRAY_TASK_ID"] = "0", ["SLURM_ARRAY_TASK_MIN"] = "1", ["SLURM_ARRAY_TASK_COUNT"] = "8" }));
        Assert.Contains("SLURM_ARRAY_TASK_ID 0 is not in the array", e.Message);
    }

    [Fact]
    public void Kubernetes_wins_over_the_others_and_no_variable_means_no_shard()
    {
        Assert.Null(FromEnvironment([]));
        Assert.Null(FromEnvironment(new() { ["RESCALE_SHARD_COUNT"] = "4" }));
        Assert.Equal(new BatchShard(1, 4), FromEnvironment(new() { ["JOB_COMPLETION_INDEX"] = "1", ["SLURM_ARRAY_TASK_ID"] = "3", ["RESCALE_SHARD_COUNT"] = "4" }));
        BatchShard.FromEnvironment(name => name == "AWS_BATCH_JOB_ARRAY_INDEX" ? "0" : name == "AWS_BATCH_JOB_ARRAY_SIZE" ? "2" : null, null, out var source);
        Assert.Equal("AWS_BATCH_JOB_ARRAY_INDEX", source);
    }
}
