using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using MLNet.Rescale.Batch;
using MLNet.Rescale.Hosting;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Networks;
using Spectre.Console;

namespace MLNet.Rescale.Cli.Commands;

/// <summary>
/// <c>rescale batch IN_DIR OUT_DIR [--shard I/N] [--report report.jsonl] ...</c>: downscales every image under IN_DIR into
/// the same tree under OUT_DIR, each output written atomically, skipping what is up to date; one worker's share of the
/// store with <c>--shard</c> or an array job's index variable (see <see cref="BatchShard.FromEnvironment"/>).
/// Exit codes: 0 every image written or up to date, 3 finished but some images failed (listed, and in the report),
/// 1 stopped (an output could not be written, a bad model), 2 usage.
/// </summary>
internal static class BatchCommand
{
    /// <summary>The run finished, but some inputs could not be downscaled (a rerun would fail on them again).</summary>
    public const int SomeImagesFailed = 3;

    public static Command Create()
    {
        var input = new Argument<string>("IN_DIR") { Description = "The image store: every PNG, JPEG, WebP and BMP file under it, in subfolders too (hidden ones left out)." };
        var output = new Argument<string>("OUT_DIR") { Description = "Where the LR images go, the input tree mirrored (outputs written atomically)." };
        var model = CliContext.ModelOption();
        var format = new Option<string?>("--format") { Description = "Format of every output: png, jpeg, webp or bmp (default: each input's own).", HelpName = "png|jpeg|webp|bmp" };
        var quality = new Option<int>("--quality", "-q") { Description = "JPEG/WebP quality, 1..100.", DefaultValueFactory = _ => 90, HelpName = "Q" };
        var workers = new Option<int>("--workers", "-w") { Description = "Images downscaled at once in this process, each on its own network instance.", DefaultValueFactory = _ => 1, HelpName = "W" };
        var threads = new Option<int?>("--threads", "-t") { Description = "libtorch threads per image (default: the processor count divided by --workers).", HelpName = "T" };
        var tile = CliContext.TileOption();
        var shard = new Option<string?>("--shard") { Description = "This worker's share: shard I of N (0 ≤ I < N), by a stable hash of each file's relative path. Without it, JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX or SLURM_ARRAY_TASK_ID gives the index.", HelpName = "I/N" };
        var shardCount = new Option<int?>("--shard-count") { Description = $"The number of shards when an orchestrator's index variable gives the index (Kubernetes does not export it; or set {BatchShard.CountVariable}).", HelpName = "N" };
        var force = new Option<bool>("--force") { Description = "Redo images whose output is up to date." };
        var psnr = new Option<bool>("--psnr") { Description = "Score each image's round trip (its output file upscaled back; Y-PSNR, border = scale) in the report and summary." };
        var gaussianScale = CliContext.GaussianScaleOption();
        var report = new Option<string?>("--report") { Description = "Write a manifest: one JSON line per image (input, output, status, sizes, psnr_y, seconds, error).", HelpName = "report.jsonl" };
        var hcd = new CollaborativeArguments();
        var command = new Command("batch", "Downscale every image of a folder tree (or one shard of it, for array jobs) into a mirrored tree; reruns skip what is done.")
        {
            input, output, model, format, quality, workers, threads, tile, shard, shardCount, force, psnr, gaussianScale, report,
        };
        foreach (var o in hcd.All) command.Options.Add(o);
        command.SetCliAction((r, cli) =>
        {
            string inDir = r.GetValue(input)!, outDir = r.GetValue(output)!;
            ImageFormat? outputFormat = r.GetValue(format) is { } f
                ? ImageFile.FormatFromExtension("." + f) ?? throw new CliException($"--format must be png, jpeg, webp or bmp, got '{f}'", CliContext.UsageError)
                : null;
            int q = r.GetValue(quality), w = r.GetValue(workers);
            if (q is < 1 or > 100) throw new CliException($"--quality must be in 1..100, got {q}", CliContext.UsageError);
            if (w < 1) throw new CliException($"--workers must be at least 1, got {w}", CliContext.UsageError);
            int t = r.GetValue(threads) ?? Math.Max(1, Environment.ProcessorCount / w);
            CliContext.ApplyThreads(t);
            var (share, source) = ReadShard(r.GetValue(shard), r.GetValue(shardCount));
            var collaborativeFor = hcd.Read(r);

            var plan = CliContext.At(inDir, () => ImageBatch.Plan(new BatchOptions
            {
                InputFolder = inDir, OutputFolder = outDir, Format = outputFormat, Shard = share, Force = r.GetValue(force),
            }));
            int cleaned = ImageBatch.RemoveStaleTemporaryFiles(plan);

            // The first instance loads here, so a bad model is one error naming it; its scale picks HCD's recipe.
            string modelPath = CliContext.ModelPath(r.GetValue(model)!);
            RescaleNetwork? first = CliContext.LoadModel(modelPath, cli.Device);
            var collaborative = collaborativeFor?.Invoke(first.Scale);
            var device = cli.Device;
            using var rescaler = new PooledImageRescaler(new ImageRescalingOptions
            {
                ModelPath = modelPath,
                ModelLoader = path => Interlocked.Exchange(ref first, null) ?? ModelFile.Load(path, device),
                PoolSize = w,
                ThreadsPerCall = t,
                Inference = new RescalerOptions { Device = device, TileSize = r.GetValue(tile), Temperature = CliContext.GaussianScale(r.GetValue(gaussianScale)) },
                Collaborative = collaborative is not null,
                CollaborativeOptions = collaborative ?? new(),
                Encoding = new ImageWriteOptions { Quality = q },
            });

            string what = share.Count > 1 ? $"shard {share}{(source is null ? "" : $" (from {source})")}: " : "";
            cli.Out.WriteLine($"{what}{plan.Items.Count} of {plan.StoreImages} images in {plan.Options.InputFolder}, {plan.Pending} to downscale "
                + $"with {rescaler.Architecture} ×{rescaler.Scale} ({Path.GetFileName(rescaler.ModelPath)}{(collaborative is null ? "" : ", " + CollaborativeArguments.Describe(collaborative))}), "
                + $"{w} at a time × {t} thread{(t == 1 ? "" : "s")}{(cleaned > 0 ? $"; removed {cleaned} temporary files of interrupted writes" : "")}");

            using var writer = r.GetValue(report) is { } reportPath ? CliContext.At(reportPath, () => new BatchReportWriter(reportPath)) : null;
            using var stop = new CancellationTokenSource();
            // SIGTERM (a pod being stopped) or Ctrl+C: finish the images under way, keep the report, exit 1 so the shard is rerun.
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
            BatchSummary summary = null!;
            var psnrs = new List<double>();
            Exception? stopped = null;
            cli.Console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask($"batch ×{rescaler.Scale}{(share.Count > 1 ? $" shard {share}" : "")}", maxValue: Math.Max(1, plan.Items.Count));
                    var options = new BatchRunOptions
                    {
                        Workers = w, Encoding = new ImageWriteOptions { Quality = q }, Psnr = r.GetValue(psnr),
                        Completed = result =>
                        {
                            writer?.Write(result);
                            if (result.Psnr is { } p) psnrs.Add(p);
                            task.Increment(1);
                        },
                    };
                    try
                    {
                        summary = ImageBatch.RunAsync(plan, rescaler, options, stop.Token).GetAwaiter().GetResult();
                    }
                    catch (Exception e) when (e is BatchOutputException or OperationCanceledException)
                    {
                        stopped = e;
                    }
                });
            // The report of a stopped run still says what was done before it stopped.
            if (writer is not null) CliContext.At(writer.Path, () => writer.Complete());
            if (stopped is OperationCanceledException)
                throw new CliException($"{plan.Options.InputFolder}: stopped by a signal; outputs written so far are complete, a rerun finishes the shard");
            if (stopped is not null) throw new CliException(stopped.Message, CliContext.Failure, stopped);

            double seconds = summary.Elapsed.TotalSeconds;
            var ic = CultureInfo.InvariantCulture;
            string rate = summary.Written > 0 && seconds > 0
                ? string.Create(ic, $" ({summary.Written / seconds * 60:0.#} images/min, {summary.Megapixels / seconds:0.###} MP/s)") : "";
            string scores = psnrs.Count > 0
                ? string.Create(ic, $"; round-trip Y-PSNR mean {psnrs.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average():0.00} dB") : "";
            cli.Out.WriteLine(string.Create(ic, $"{summary.Written} written, {summary.UpToDate} up to date, {summary.Failed} failed in {seconds:0.0} s{rate}{scores} → {plan.Options.OutputFolder}"));
            foreach (var failure in summary.Failures.OrderBy(x => x.RelativePath, StringComparer.Ordinal))
                cli.Out.WriteLine($"failed: {failure.Error}");
            if (writer is not null) cli.Out.WriteLine($"report: {writer.Path}");
            return summary.Failed > 0 ? SomeImagesFailed : CliContext.Success;
        });
        return command;
    }

    /// <summary>The shard from --shard, else from an orchestrator's variables, else the whole store; bad values are usage errors.</summary>
    private static (BatchShard Shard, string? Source) ReadShard(string? shard, int? count)
    {
        try
        {
            if (shard is not null)
            {
                if (count is not null) throw new FormatException("--shard-count goes with an index variable; --shard I/N already gives the count");
                return (BatchShard.Parse(shard), null);
            }
            if (BatchShard.FromEnvironment(null, count, out var source) is { } fromEnvironment) return (fromEnvironment, source);
            if (count is not null)
                throw new FormatException("--shard-count needs an index: set JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX or SLURM_ARRAY_TASK_ID, or use --shard I/N");
            return (BatchShard.All, null);
        }
        catch (FormatException e)
        {
            throw new CliException((shard is not null ? "--shard: " : "") + e.Message, CliContext.UsageError);
        }
    }
}
