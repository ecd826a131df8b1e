using MLNet.Rescale.Reporting;
using System.CommandLine;
using System.Globalization;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Training;
using Spectre.Console;

namespace MLNet.Rescale.Cli.Commands;

/// <summary>
/// <c>rescale train [--model irn|sain] --scale S --data DIR [--val DIR] --out RUN_DIR [--minutes M | --iterations N] [--resume]</c>:
/// trains an IRN (<c>--blocks</c>) or a SAIN (<c>--e-blocks</c>, <c>--v-blocks</c>, <c>--codec jpeg:Q|webp:Q</c>) with a
/// live progress bar (ETA, the objective's loss terms, validation Y-PSNR); the run folder gets checkpoints,
/// model.safetensors, metrics.jsonl and curve.svg.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Network to train: irn or sain.", DefaultValueFactory = _ => "irn" };
        model.AcceptOnlyFromAmong("irn", "sain");
        var scale = new Option<int>("--scale", "-s") { Description = "Downscaling factor: 2, 4 or 8.", DefaultValueFactory = _ => 2 };
        var data = new Option<string[]>("--data") { Description = "Training image folder(s).", Required = true, AllowMultipleArgumentsPerToken = true };
        var val = new Option<string[]>("--val") { Description = "Validation folder (round-trip Y-PSNR); give --val again to also score further folders at every validation (logged, drawn, not in the progress line).", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "Run folder (checkpoints, model, metrics, curve).", Required = true };
        var minutes = new Option<double>("--minutes") { Description = "Wall-clock budget (0: none).", DefaultValueFactory = _ => 0 };
        var iterations = new Option<long>("--iterations") { Description = "Iteration budget.", DefaultValueFactory = _ => 1_000_000 };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its checkpoint, exactly." };
        var blocks = new Option<string?>("--blocks") { Description = "IRN: coupling blocks per Haar level, e.g. 8 or 4,4 (default 8)." };
        var eBlocks = new Option<int?>("--e-blocks") { Description = "SAIN: enhanced blocks (default 5 at x2, 10 at x4)." };
        var vBlocks = new Option<int?>("--v-blocks") { Description = "SAIN: vanilla blocks of the compression simulator (default 3 at x2, 6 at x4)." };
        var codec = new Option<string?>("--codec") { Description = "SAIN: the real codec in the loop and in validation, jpeg:Q or webp:Q (default jpeg:75)." };
        var batch = new Option<int>("--batch") { Description = "Patches per batch.", DefaultValueFactory = _ => 16 };
        var patch = new Option<int>("--patch") { Description = "HR patch side (a multiple of the scale).", DefaultValueFactory = _ => 48 };
        var lr = new Option<double>("--lr") { Description = "Adam learning rate.", DefaultValueFactory = _ => 2e-4 };
        var milestones = new Option<string>("--milestones") { Description = "Iterations where the rate halves, e.g. 2500,4000.", DefaultValueFactory = _ => "" };
        var warmup = new Option<long>("--warmup") { Description = "Linear warm-up iterations.", DefaultValueFactory = _ => 0 };
        var validateEvery = new Option<long>("--validate-every") { Description = "Validation interval in iterations.", DefaultValueFactory = _ => 500 };
        var checkpointEvery = new Option<long>("--checkpoint-every") { Description = "Checkpoint interval in iterations (each checkpoint is written atomically).", DefaultValueFactory = _ => 100 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of initialization, data order and latents.", DefaultValueFactory = _ => 1UL };
        var initFrom = new Option<string?>("--init-from") { Description = "Model file whose weights start every parameter of the same name and shape (e.g. a x4 network's first level from a x2 model)." };
        var latentScale = new Option<double?>("--latent-scale") { Description = "IRN: spread of the latent z ~ N(0, s^2) the reconstruction draws in training, recorded in the model and used to upscale (0 trains with z = 0, as the shipped models; default: the --init-from IRN's, else 1, the reference)." };
        var sampleByArea = new Option<bool>("--sample-by-area") { Description = "Draw patches' images in proportion to their area instead of uniformly (for folders of mixed image sizes)." };
        var average = new Option<double?>("--average") { Description = "Keep a moving average of the weights with this decay (e.g. 0.999) and validate and save the average (default: none)." };
        var threads = CliContext.ThreadsOption();
        var command = new Command("train", "Train an IRN or a SAIN on image folders (checkpoints atomically; --resume continues exactly).")
        {
            model, scale, data, val, output, minutes, iterations, resume, blocks, eBlocks, vBlocks, codec, batch, patch, lr, milestones, warmup, validateEvery, checkpointEvery, seed, initFrom, latentScale, sampleByArea, average, threads,
        };
        command.SetCliAction((r, cli) =>
        {
            CliContext.ApplyThreads(r.GetValue(threads));
            bool sain = r.GetValue(model) == "sain";
            if (sain && r.GetValue(blocks) is not null)
                throw new CliException("--blocks is for IRN; SAIN takes --e-blocks and --v-blocks", CliContext.UsageError);
            if (!sain && (r.GetValue(eBlocks) is not null || r.GetValue(vBlocks) is not null || r.GetValue(codec) is not null))
                throw new CliException("--e-blocks, --v-blocks and --codec are for --model sain", CliContext.UsageError);
            if (sain && r.GetValue(latentScale) is not null)
                throw new CliException("--latent-scale is for IRN; SAIN draws its latent from its learned mixture", CliContext.UsageError);
            if (r.GetValue(latentScale) is { } ls && (!(ls >= 0) || !double.IsFinite(ls)))
                throw new CliException($"--latent-scale must be a finite number ≥ 0, got {ls.ToString(System.Globalization.CultureInfo.InvariantCulture)}", CliContext.UsageError);
            if (r.GetValue(average) is { } decay && !(decay > 0 && decay < 1))
                throw new CliException($"--average must lie strictly between 0 and 1, got {decay.ToString(System.Globalization.CultureInfo.InvariantCulture)}", CliContext.UsageError);
            if (r.GetValue(checkpointEvery) < 1)
                throw new CliException($"--checkpoint-every must be at least 1, got {r.GetValue(checkpointEvery)}", CliContext.UsageError);
            var defaults = new TrainerOptions();
            var options = new TrainerOptions
            {
                Architecture = sain ? TrainingArchitecture.Sain : TrainingArchitecture.Irn,
                Scale = r.GetValue(scale),
                BlocksPerLevel = sain ? null : BlocksPerLevel(r.GetValue(blocks) ?? "8", r.GetValue(scale)),
                EnhancedBlocks = r.GetValue(eBlocks),
                VanillaBlocks = r.GetValue(vBlocks),
                Codec = sain ? ParseCodec(r.GetValue(codec) ?? defaults.Codec) : defaults.Codec,
                DataFolders = r.GetValue(data)!,
                ValidationFolder = r.GetValue(val) is { Length: > 0 } folders ? folders[0] : null,
                ExtraValidationFolders = r.GetValue(val) is { Length: > 1 } more ? more[1..] : [],
                Minutes = r.GetValue(minutes),
                Iterations = r.GetValue(iterations),
                BatchSize = r.GetValue(batch),
                SampleByArea = r.GetValue(sampleByArea),
                AverageDecay = r.GetValue(average),
                Patch = r.GetValue(patch),
                LearningRate = r.GetValue(lr),
                Milestones = Ints(r.GetValue(milestones)!, "--milestones").Select(i => (long)i).ToArray(),
                Warmup = r.GetValue(warmup),
                ValidateEvery = r.GetValue(validateEvery),
                CheckpointEvery = r.GetValue(checkpointEvery),
                Seed = r.GetValue(seed),
                InitFrom = r.GetValue(initFrom),
                LatentScale = r.GetValue(latentScale), // null: the --init-from IRN's spread, else 1 (the trainer resolves it)
                Threads = r.GetValue(threads),
                Device = cli.Device.ToString(),
            };
            string runDir = r.GetValue(output)!;
            // A resume keeps the run's own budget unless the command line gives one (--iterations or --minutes): a
            // resumed run then ends where it was planned to, not at the default million iterations.
            if (r.GetValue(resume) && r.GetResult(iterations) is not { Implicit: false } && r.GetResult(minutes) is not { Implicit: false }
                && File.Exists(Path.Combine(runDir, "options.json")))
            {
                var saved = CliContext.At(runDir, () => Trainer.SavedOptions(runDir));
                options = options with { Iterations = saved.Iterations, Minutes = saved.Minutes };
            }
            using var trainer = CliContext.At(runDir, () => new Trainer(runDir, options, r.GetValue(resume)));
            if (trainer.InitializedFrom.Count > 0)
                cli.Out.WriteLine($"initialized {trainer.InitializedFrom.Count} of {trainer.Network.state_dict().Count} tensors from {trainer.Options.InitFrom}");
            string through = trainer.Objective.ValidationCodec is { } c ? $" through {c}" : "";
            cli.Out.WriteLine($"training {trainer.Network.Architecture} ×{trainer.Options.Scale}{through} on {trainer.ImageCount} images from iteration {trainer.Iteration} into {runDir}");
            var labels = trainer.Objective.Terms.ToDictionary(t => t.Key, t => t.Label);
            cli.Console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("train", maxValue: trainer.Options.Iterations);
                    task.Value = trainer.Iteration;
                    double? lastVal = null;
                    trainer.Run(new SyncProgress<TrainingProgress>(p =>
                    {
                        lastVal = p.ValidationPsnr ?? lastVal;
                        task.MaxValue = p.ExpectedIterations;
                        task.Value = p.Iteration;
                        task.Description = string.Create(CultureInfo.InvariantCulture,
                            $"it {p.Iteration} loss {p.Loss:0.0} ({string.Join(" ", p.Terms.Terms.Select(t => $"{labels[t.Key]} {Short(t.Value)}"))}) lr {p.LearningRate:0.##e0}{(lastVal is { } v ? $" val {v:0.00} dB" : "")}");
                    }));
                    task.Value = task.MaxValue;
                });
            CliContext.At(runDir, () => trainer.WriteCurve());
            cli.Out.WriteLine($"stopped at iteration {trainer.Iteration}; model: {Path.Combine(runDir, "model.safetensors")}; curve: {Path.Combine(runDir, "curve.svg")}");
            return CliContext.Success;
        });
        return command;
    }

    // Terms span orders of magnitude (a Charbonnier sum in the thousands, an LR fit below 0.01): three significant
    // digits, and no exponent for the large ones.
    private static string Short(double v) => v.ToString(Math.Abs(v) >= 100 ? "0" : "G3", CultureInfo.InvariantCulture);

    private static string ParseCodec(string text)
    {
        try
        {
            return Evaluation.LossyCodec.Parse(text).ToString();
        }
        catch (FormatException e)
        {
            throw new CliException($"--codec: {e.Message}", CliContext.UsageError);
        }
    }

    // "8" means 8 at every Haar level; "4,8" gives each level its own count.
    private static int[] BlocksPerLevel(string text, int scale)
    {
        var counts = Ints(text, "--blocks");
        return counts.Length == 1 ? Enumerable.Repeat(counts[0], CliContext.At("--scale", () => RescaleNetwork.Levels(scale))).ToArray() : counts;
    }

    private static int[] Ints(string text, string option)
    {
        try
        {
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (FormatException)
        {
            throw new CliException($"{option} must be a comma-separated list of integers, got '{text}'", CliContext.UsageError);
        }
    }

    /// <summary>Reports on the training thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
