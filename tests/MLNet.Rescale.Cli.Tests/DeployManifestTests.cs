using System.Text.RegularExpressions;
using k8s;
using k8s.Models;
using MLNet.Rescale.Batch;

namespace MLNet.Rescale.Cli.Tests;

/// <summary>
/// deploy/rescale-batch-job.yaml read with the Kubernetes API's own model types, strictly (a field the API does not
/// have fails), and its key settings checked against what the worker does; no cluster is needed.
/// </summary>
public sealed class DeployManifestTests
{
    private static string Deploy(string file) => Path.Combine(TestPaths.RepoRoot, "deploy", file);

    private static readonly string Yaml = File.ReadAllText(Deploy("rescale-batch-job.yaml"));

    private static V1Job Job(string yaml) => KubernetesYaml.Deserialize<V1Job>(yaml, strict: true);

    [Fact]
    public void The_job_is_indexed_with_one_shard_per_completion_and_retries_per_index()
    {
        var job = Job(Yaml);
        Assert.Equal(("batch/v1", "Job"), (job.ApiVersion, job.Kind));
        var spec = job.Spec;
        Assert.Equal("Indexed", spec.CompletionMode);
        Assert.True(spec.Completions > 1, "a sharded job has several completions");
        Assert.InRange(spec.Parallelism ?? 0, 1, spec.Completions!.Value);
        Assert.True(spec.BackoffLimitPerIndex >= 1, "each index should retry on its own");
        Assert.Equal("Never", spec.Template.Spec.RestartPolicy); // required by backoffLimitPerIndex and podFailurePolicy

        var container = Assert.Single(spec.Template.Spec.Containers);
        var env = container.Env.ToDictionary(e => e.Name);
        // Kubernetes does not export the completion count: the worker's count must be the Job's.
        Assert.Equal(spec.Completions.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), env[BatchShard.CountVariable].Value);
        Assert.Equal("metadata.annotations['batch.kubernetes.io/job-completion-index']", env["SHARD_INDEX"].ValueFrom.FieldRef.FieldPath);

        // Exit codes of `rescale batch` (BatchCommandTests): 2 usage, 3 corrupt inputs — retrying cannot help; 1 can.
        var failIndex = Assert.Single(spec.PodFailurePolicy.Rules, r => r.Action == "FailIndex");
        Assert.Equal("In", failIndex.OnExitCodes.OperatorProperty);
        Assert.Equal([2, 3], failIndex.OnExitCodes.Values.Order());
        Assert.Equal(container.Name, failIndex.OnExitCodes.ContainerName);
        Assert.Contains(spec.PodFailurePolicy.Rules, r => r.Action == "Ignore" && r.OnPodConditions.Any(c => c.Type == "DisruptionTarget"));
    }

    [Fact]
    public void The_worker_gets_the_store_as_a_volume_and_resources_sized_from_the_measured_memory()
    {
        var pod = Job(Yaml).Spec.Template.Spec;
        var container = Assert.Single(pod.Containers);
        Assert.Equal("batch", container.Args[0]);
        string input = container.Args[1], output = container.Args[2];
        var mounts = container.VolumeMounts.ToDictionary(m => m.MountPath);
        Assert.True(mounts[input].ReadOnlyProperty, "the originals are mounted read-only");
        Assert.NotEqual(true, mounts[output].ReadOnlyProperty);
        var claims = pod.Volumes.Where(v => v.PersistentVolumeClaim is not null).Select(v => v.Name).ToHashSet();
        Assert.All(container.VolumeMounts, m => Assert.Contains(m.Name, claims));

        // A worker of 2 images at once peaked at 704 MiB resident (deploy/README.md): the request covers it, the limit leaves headroom.
        var requests = container.Resources.Requests;
        var limits = container.Resources.Limits;
        long request = requests["memory"].ToInt64(), limit = limits["memory"].ToInt64();
        Assert.InRange(request, 800L << 20, limit);
        Assert.True(limit >= 1L << 30, $"memory limit {limit}");
        int Arg(string name, int absent) => container.Args.IndexOf(name) is int i and >= 0
            ? int.Parse(container.Args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : absent;
        // The CPUs requested are the cores the worker keeps busy: images at once × libtorch threads each.
        Assert.Equal(Arg("--workers", 1) * Arg("--threads", 1), (int)Math.Ceiling(requests["cpu"].ToDecimal()));
    }

    [Fact]
    public void The_workers_arguments_are_ones_rescale_batch_accepts()
    {
        var container = Job(Yaml).Spec.Template.Spec.Containers[0];
        // Kubernetes expands $(VAR) from the container's env before the tool sees its arguments.
        var args = container.Args.Select(a => a.Replace("$(SHARD_INDEX)", "0", StringComparison.Ordinal)).ToArray();
        Assert.DoesNotContain(args, a => a.Contains("$(", StringComparison.Ordinal));
        var parsed = Program.BuildRootCommand().Parse(args);
        Assert.Empty(parsed.Errors);
        Assert.Equal("batch", parsed.CommandResult.Command.Name);
    }

    [Theory]
    [InlineData("completionMode")]
    [InlineData("backoffLimitPerIndex")]
    [InlineData("podFailurePolicy")]
    [InlineData("restartPolicy")]
    [InlineData("volumeMounts")]
    [InlineData("readOnly")]
    [InlineData("persistentVolumeClaim")]
    [InlineData("requests")]
    public void A_misspelt_field_fails_to_load(string field)
    {
        Assert.Matches(new Regex($@"^\s*-?\s*{field}:", RegexOptions.Multiline), Yaml);
        string typo = Regex.Replace(Yaml, $@"^(\s*-?\s*){field}:", "${1}" + field + "x:", RegexOptions.Multiline);
        Assert.NotEqual(Yaml, typo);
        var e = Assert.ThrowsAny<Exception>(() => Job(typo));
        Assert.Contains(field + "x", e.Message);
    }

    [Fact]
    public void The_dockerfile_installs_this_versions_tool_on_the_dotnet_runtime_image()
    {
        string dockerfile = File.ReadAllText(Deploy("Dockerfile"));
        string version = Regex.Match(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "Directory.Build.props")), "<Version>([^<]+)</Version>").Groups[1].Value;
        Assert.Matches(@"(?m)^FROM mcr\.microsoft\.com/dotnet/runtime:10\.0\s*$", dockerfile);
        Assert.Contains($"ARG VERSION={version}", dockerfile);
        Assert.Contains("dotnet tool install MLNet.Rescale.Cli", dockerfile);
        Assert.Contains("--add-source /feed", dockerfile);
        Assert.Contains($"mlnet-rescale-batch:{version}", Yaml);
    }
}
