using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Reporting;
using Spectre.Console;

namespace MLNet.Rescale.Cli.Commands;

/// <summary>
/// <c>rescale eval --report out.html</c>: one or more models (each optionally with HCD) round-trip every image of the
/// folder, the console shows each model's table as without a report, and a self-contained HTML page
/// (<see cref="HtmlReport"/>) gets the scores and zoomed crops of HR, bicubic, every model and every model + HCD.
/// With <c>--sweep</c> the page also carries the sweep's plot (see <c>EvalCommand.Sweep</c>).
/// </summary>
internal static class EvalReport
{
    public static int Compare(CliContext cli, string[] modelPaths, string folder, LossyCodec? codec, Func<int, CollaborativeOptions>? collaborativeFor,
        RescalerOptions rescalerOptions, bool json, string reportPath)
    {
        var nets = new List<RescaleNetwork>();
        try
        {
            foreach (var path in modelPaths) nets.Add(CliContext.LoadModel(path, cli.Device));
            var models = nets.Select((n, i) => new ComparedModel(EvalCommand.MethodName(modelPaths[i], n), new Rescaler(n, rescalerOptions),
                collaborativeFor is null ? null : new CollaborativeOptimizer(n, collaborativeFor(n.Scale)))).ToList();
            if (models.Select(m => m.Rescaler.Scale).Distinct().Count() > 1)
                throw new CliException("the models of a report must share one scale: " + string.Join(", ", models.Select(m => $"{m.Name} ×{m.Rescaler.Scale}")), CliContext.UsageError);
            var collaborativeOptions = models[0].Collaborative?.Options;
            if (models.Select(m => m.Name).Distinct().Count() < models.Count)
                throw new CliException("the models of a report need distinct names (architecture and file name): " + string.Join(", ", models.Select(m => m.Name)), CliContext.UsageError);
            Func<Image, Image>? lrTransform = codec is null ? null : codec.Apply;
            ComparisonResult result = null!;
            if (json) result = CliContext.At(folder, () => VisualComparison.Run(models, folder, lrTransform));
            else
                cli.Console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var files = CliContext.At(folder, () => Evaluator.ImageFiles(folder));
                        var task = ctx.AddTask($"eval ×{models[0].Rescaler.Scale}, {models.Count} model(s)", maxValue: files.Count * models.Count);
                        ProgressTask? hcdTask = null;
                        if (collaborativeOptions is not null)
                        {
                            int steps = files.Sum(f => CliContext.At(f, () =>
                            {
                                var image = ImageFile.Read(f);
                                int s = models[0].Rescaler.Scale;
                                return models.Sum(m => m.Collaborative!.TotalSteps(m.Rescaler, image.Width - image.Width % s, image.Height - image.Height % s));
                            }));
                            hcdTask = ctx.AddTask("HCD iterations", maxValue: steps);
                        }
                        result = CliContext.At(folder, () => VisualComparison.Run(models, folder, lrTransform, progress: (done, _) => task.Value = done,
                            step: hcdTask is null ? null : () => hcdTask.Increment(1)));
                    });
            string channel = codec is null ? "LR sent as 8-bit PNG (lossless)" : $"LR compressed with {codec} before upscaling (bicubic's too)";
            string? hcdLine = collaborativeOptions is null ? null : string.Create(CultureInfo.InvariantCulture,
                $"{CollaborativeArguments.Describe(collaborativeOptions)}, seed {collaborativeOptions.Seed}{(collaborativeOptions.LrChannel is null ? "" : ", LR stage through a differentiable JPEG")}");
            Write(reportPath, result, Settings(folder, modelPaths, nets, rescalerOptions, channel, hcdLine), null, null);
            if (json)
            {
                var objects = result.Reports.Select((r, i) => EvalCommand.ToJson(r, nets[i].Scale, modelPaths[i], codec)).ToList();
                JsonObject output = objects.Count == 1 ? objects[0] : new JsonObject { ["models"] = new JsonArray([.. objects]) };
                output["report"] = reportPath;
                cli.Out.WriteLine(output.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return CliContext.Success;
            }
            for (int i = 0; i < models.Count; i++)
                EvalCommand.PrintTable(cli, result.Reports[i], models.Count == 1 ? nets[i].Architecture : models[i].Name, codec, collaborativeOptions);
            cli.Out.WriteLine($"report: {reportPath}");
            return CliContext.Success;
        }
        finally
        {
            foreach (var n in nets) n.Dispose();
        }
    }

    /// <summary>The report's lines describing the run.</summary>
    public static List<string> Settings(string folder, string[] modelPaths, IReadOnlyList<RescaleNetwork> nets, RescalerOptions options, string channel, string? hcd)
    {
        var lines = new List<string> { $"data: {folder}" };
        lines.AddRange(modelPaths.Select((p, i) => $"model: {p} ({nets[i].Architecture} ×{nets[i].Scale})"));
        lines.Add(channel);
        if (hcd is not null) lines.Add(hcd);
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"upscaling latent: seed {options.Seed}, tiles of {options.TileSize} LR pixels"));
        return lines;
    }

    /// <summary>Renders and writes the page atomically; a write error names the file.</summary>
    public static void Write(string path, ComparisonResult result, IReadOnlyList<string> settings, SweepResult? sweep, string? sweepTitle)
    {
        string title = $"Rescaling ×{result.Scale}: {string.Join(" vs ", result.Models)} vs bicubic";
        CliContext.At(path, () => HtmlReport.Write(path, HtmlReport.Render(title, result, settings, sweep, sweepTitle)));
    }
}
