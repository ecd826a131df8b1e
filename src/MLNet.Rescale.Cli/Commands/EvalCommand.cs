using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Reporting;
using MLNet.Rescale.IO;
using Spectre.Console;

namespace MLNet.Rescale.Cli.Commands;

/// <summary>
/// <c>rescale eval --model M --data DIR [--json] [--compress jpeg:Q] [--collaborative ...]</c>: mean Y-PSNR/SSIM of the
/// round trip over a folder (modcrop, crop border = scale, BT.601 luma) next to the MATLAB-bicubic down/up baseline,
/// with a progress bar; <c>--compress</c> passes every LR through a real codec first; with <c>--collaborative</c> the
/// round trip of the HCD-optimized LR is scored too (through a differentiable JPEG when the LR will meet JPEG).
/// <c>--sweep 30,50,70</c> scores one or more models and bicubic at every quality and writes a PSNR-vs-quality plot.
/// <c>--report out.html</c> writes a self-contained HTML page: scores, the sweep's plot, and zoomed crops of every method
/// (see <see cref="EvalReport"/>); with a report several models may be compared without a sweep.
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<string[]>("--model", "-m")
        {
            Description = "Model file(s) (.safetensors); several only with --sweep.", Required = true, HelpName = "M.safetensors",
        };
        var data = new Option<string>("--data") { Description = "Folder of HR images.", Required = true, HelpName = "DIR" };
        var json = new Option<bool>("--json") { Description = "Print JSON (psnr_y, ssim_y, bicubic_psnr_y, bicubic_ssim_y, images)." };
        var compress = new Option<string>("--compress")
        {
            Description = "Compress every LR with a real codec before upscaling: jpeg:Q or webp:Q (with --sweep: just jpeg or webp).", HelpName = "CODEC:Q",
        };
        var sweep = new Option<string>("--sweep") { Description = "Qualities to sweep, e.g. 30,50,70,80,90: a table and a plot.", HelpName = "Q,Q,..." };
        var plot = new Option<string>("--plot") { Description = "Where --sweep writes its plot, SVG or PNG by the extension (default rescale-sweep-CODEC-xS.svg).", HelpName = "PLOT.svg|PLOT.png" };
        var budgets = new Option<string>("--hcd-budgets")
        {
            Description = "With --collaborative: evaluate HCD at each budget (seconds per HR megapixel, e.g. 5,10,30,100,300), print the gain and the time of each, and plot the gain against the budget (--plot, default rescale-hcd-budget-xS.svg).",
            HelpName = "S,S,...",
        };
        var reportOption = new Option<string>("--report")
        {
            Description = "Write a self-contained HTML report: scores, the --sweep plot, zoomed crops of HR/bicubic/each model (+HCD).", HelpName = "OUT.html",
        };
        var seed = CliContext.SeedOption();
        var temperature = CliContext.GaussianScaleOption();
        var tile = CliContext.TileOption();
        var threads = CliContext.ThreadsOption();
        var hcd = new CollaborativeArguments();
        var command = new Command("eval", "Round-trip every image of a folder and report Y-PSNR/SSIM next to bicubic.")
        {
            model, data, json, compress, sweep, plot, budgets, reportOption, seed, temperature, tile, threads,
        };
        foreach (var o in hcd.All) command.Options.Add(o);
        command.SetCliAction((r, cli) =>
        {
            CliContext.ApplyThreads(r.GetValue(threads));
            string[] modelPaths = r.GetValue(model)!;
            string folder = r.GetValue(data)!;
            var rescalerOptions = new RescalerOptions
            {
                Device = cli.Device, Seed = r.GetValue(seed), TileSize = r.GetValue(tile), Temperature = CliContext.GaussianScale(r.GetValue(temperature)),
            };
            if (r.GetValue(sweep) is { } qualities)
            {
                if (r.GetValue(hcd.Enabled)) throw new CliException("--sweep does not combine with --collaborative yet; evaluate HCD at one quality with --compress", CliContext.UsageError);
                return Sweep(cli, modelPaths, folder, r.GetValue(compress), qualities, r.GetValue(plot), r.GetValue(json), rescalerOptions, r.GetValue(reportOption));
            }
            string? reportPath = r.GetValue(reportOption);
            if (modelPaths.Length != 1 && reportPath is null) throw new CliException("several --model need --sweep or --report", CliContext.UsageError);
            var codec = r.GetValue(compress) is { } c ? Usage(() => LossyCodec.Parse(c)) : null;
            // Compression-aware HCD: through a JPEG the LR stage optimizes through its differentiable surrogate (and the
            // serving recipe differs then).
            bool throughCodec = codec?.Format == ImageFormat.Jpeg;
            var collaborativeFor = hcd.Read(r, throughCodec);
            if (collaborativeFor is not null && codec is not null)
            {
                if (throughCodec)
                {
                    var plain = collaborativeFor;
                    collaborativeFor = scale => plain(scale) with { LrChannel = codec.Surrogate() };
                }
                else cli.Error.WriteLine($"rescale: note: no differentiable {codec} yet; HCD optimizes the LR as if it were sent uncompressed");
            }
            if (r.GetValue(budgets) is { } budgetList)
            {
                if (collaborativeFor is null) throw new CliException("--hcd-budgets needs --collaborative", CliContext.UsageError);
                if (modelPaths.Length != 1 || reportPath is not null) throw new CliException("--hcd-budgets evaluates one --model, without --report", CliContext.UsageError);
                return BudgetSweep(cli, modelPaths[0], folder, codec, collaborativeFor, ParseBudgets(budgetList), rescalerOptions, r.GetValue(plot), r.GetValue(json));
            }
            if (reportPath is not null)
                return EvalReport.Compare(cli, modelPaths, folder, codec, collaborativeFor, rescalerOptions, r.GetValue(json), reportPath);
            string modelPath = modelPaths[0];
            using var net = CliContext.LoadModel(modelPath, cli.Device);
            var rescaler = new Rescaler(net, rescalerOptions);
            var collaborativeOptions = collaborativeFor?.Invoke(net.Scale);
            var collaborative = collaborativeOptions is null ? null : new CollaborativeOptimizer(net, collaborativeOptions);
            double? warmUp = collaborative is null ? null : WarmUp(collaborative, rescaler, folder);
            Func<Image, Image>? lrTransform = codec is null ? null : codec.Apply;
            EvaluationReport report = null!;
            if (r.GetValue(json))
            {
                report = CliContext.At(folder, () => Evaluator.Run(rescaler, folder, lrTransform, collaborative: collaborative));
                var output = ToJson(report, net.Scale, modelPath, codec);
                if (warmUp is not null) output["hcd_warmup_seconds"] = warmUp;
                cli.Out.WriteLine(output.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return CliContext.Success;
            }
            cli.Console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var files = CliContext.At(folder, () => Evaluator.ImageFiles(folder));
                    var task = ctx.AddTask($"eval ×{net.Scale}", maxValue: files.Count);
                    ProgressTask? hcdTask = null;
                    if (collaborative is not null)
                    {
                        // HCD dominates the time: count its iterations over every tile of every (modcropped) image.
                        int steps = files.Sum(f => CliContext.At(f, () =>
                        {
                            var image = ImageFile.Read(f);
                            return collaborative.TotalSteps(rescaler, image.Width - image.Width % net.Scale, image.Height - image.Height % net.Scale);
                        }));
                        hcdTask = ctx.AddTask("HCD iterations", maxValue: steps);
                    }
                    report = CliContext.At(folder, () => Evaluator.Run(rescaler, folder, lrTransform, progress: (done, _) => task.Value = done,
                        collaborative: collaborative, step: hcdTask is null ? null : () => hcdTask.Increment(1)));
                });
            PrintTable(cli, report, net.Architecture, codec, collaborativeOptions, warmUp);
            return CliContext.Success;
        });
        return command;
    }

    /// <summary>The per-image table of one model's evaluation (and its HCD cost, when HCD ran).</summary>
    internal static void PrintTable(CliContext cli, EvaluationReport report, string method, LossyCodec? codec, CollaborativeOptions? collaborative,
        double? warmUp = null)
    {
        string F(double v, string fmt) => v.ToString(fmt, CultureInfo.InvariantCulture);
        var table = new Table().Border(TableBorder.Rounded).AddColumns("image", "size", $"{Markup.Escape(method)} Y-PSNR", "SSIM");
        if (collaborative is not null) table.AddColumns("+HCD Y-PSNR", "SSIM", "gain");
        table.AddColumns("bicubic Y-PSNR", "SSIM");
        if (codec is not null) table.Title = new TableTitle($"LR compressed with {codec}");
        IEnumerable<string> Hcd(double? psnr, double? ssim, double plain) => collaborative is null ? []
            : [F(psnr!.Value, "0.00"), F(ssim!.Value, "0.0000"), F(psnr.Value - plain, "+0.00;-0.00")];
        foreach (var i in report.Images)
            table.AddRow([Markup.Escape(i.Name), $"{i.Width}×{i.Height}", F(i.PsnrY, "0.00"), F(i.SsimY, "0.0000"),
                .. Hcd(i.CollaborativePsnrY, i.CollaborativeSsimY, i.PsnrY), F(i.BicubicPsnrY, "0.00"), F(i.BicubicSsimY, "0.0000")]);
        table.AddRow(["[bold]mean[/]", "", $"[bold]{F(report.PsnrY, "0.00")}[/]", F(report.SsimY, "0.0000"),
            .. Hcd(report.CollaborativePsnrY, report.CollaborativeSsimY, report.PsnrY), F(report.BicubicPsnrY, "0.00"), F(report.BicubicSsimY, "0.0000")]);
        cli.Console.Write(table);
        if (collaborative is not null)
            cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{CollaborativeArguments.Describe(collaborative)}: {report.CollaborativeSecondsPerMegapixel:0.0} s per HR megapixel")
                + (warmUp is { } w ? string.Create(CultureInfo.InvariantCulture, $" (after a one-time warm-up of {w:0.0} s, not counted)") : ""));
    }

    /// <summary>
    /// HCD's one-time warm-up (<see cref="CollaborativeOptimizer.WarmUp"/>) for the largest image of the set, run before
    /// timing so that the seconds per megapixel are those a running service sees; returns its seconds.
    /// </summary>
    internal static double WarmUp(CollaborativeOptimizer collaborative, Rescaler rescaler, string folder)
    {
        var sizes = CliContext.At(folder, () => Evaluator.ImageFiles(folder)).Select(f => CliContext.At(f, () => ImageFile.Read(f))).Select(i => (i.Width, i.Height)).ToList();
        if (sizes.Count == 0) return 0;
        return collaborative.WarmUp(rescaler, sizes.Max(s => s.Width), sizes.Max(s => s.Height));
    }

    private static double[] ParseBudgets(string list)
    {
        var parts = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !(values[i] > 0) || !double.IsFinite(values[i]))
                throw new CliException($"--hcd-budgets: '{parts[i]}' is not a positive number of seconds per megapixel", CliContext.UsageError);
        if (values.Length == 0) throw new CliException("--hcd-budgets needs at least one budget", CliContext.UsageError);
        return [.. values.Distinct().Order()];
    }

    /// <summary>
    /// HCD's gain at each budget (and without one): one evaluation per budget, a line each, and a plot of the gain
    /// against the budget (log scale) with the unlimited run's gain as a dashed line.
    /// </summary>
    private static int BudgetSweep(CliContext cli, string modelPath, string folder, LossyCodec? codec, Func<int, CollaborativeOptions> optionsFor,
        double[] budgets, RescalerOptions rescalerOptions, string? plotPath, bool json)
    {
        using var net = CliContext.LoadModel(modelPath, cli.Device);
        var options = optionsFor(net.Scale);
        var rescaler = new Rescaler(net, rescalerOptions);
        double warmUp = WarmUp(new CollaborativeOptimizer(net, options), rescaler, folder);
        Func<Image, Image>? lrTransform = codec is null ? null : codec.Apply;
        var runs = new List<(double? Budget, EvaluationReport Report)>();
        var settings = budgets.Select(b => (double?)b).Append(null).ToList();
        void RunAll(Action? done)
        {
            foreach (var budget in settings)
            {
                var optimizer = new CollaborativeOptimizer(net, options with { Budget = budget });
                runs.Add((budget, CliContext.At(folder, () => Evaluator.Run(rescaler, folder, lrTransform, collaborative: optimizer))));
                done?.Invoke();
            }
        }
        if (json) RunAll(null);
        else
            cli.Console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask($"HCD budgets ×{net.Scale}", maxValue: settings.Count);
                    RunAll(() => task.Increment(1));
                });
        string F(double v, string fmt) => v.ToString(fmt, CultureInfo.InvariantCulture);
        var table = new Table().Border(TableBorder.Rounded).AddColumns("budget (s/MP)", "HCD Y-PSNR", "gain", "time (s/MP)");
        foreach (var (budget, report) in runs)
            table.AddRow(budget is { } b ? F(b, "0.##") : "none", F(report.CollaborativePsnrY!.Value, "0.000"),
                F(report.CollaborativePsnrY.Value - report.PsnrY, "+0.000;-0.000"), F(report.CollaborativeSecondsPerMegapixel!.Value, "0.0"));
        table.Title = new TableTitle(Markup.Escape($"{CollaborativeArguments.Describe(options)}; plain {F(runs[0].Report.PsnrY, "0.000")} dB"));
        if (!json) cli.Console.Write(table);
        var unlimited = runs[^1].Report;
        double fullGain = unlimited.CollaborativePsnrY!.Value - unlimited.PsnrY;
        var points = runs.Where(r => r.Budget.HasValue).Select(r => (Math.Log10(r.Budget!.Value), r.Report.CollaborativePsnrY!.Value - r.Report.PsnrY)).ToList();
        var chart = new Chart($"HCD gain against its budget, ×{net.Scale} ({Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))})",
            "log10 of the budget, seconds per HR megapixel", "Y-PSNR gain over plain downscaling (dB)",
        [
            new Series("within the budget", points, "#1f77b4", Markers: true),
            new Series(string.Create(CultureInfo.InvariantCulture, $"no budget ({unlimited.CollaborativeSecondsPerMegapixel:0} s/MP)"),
                [(points[0].Item1, fullGain), (points[^1].Item1, fullGain)], "#7f7f7f", Dashed: true),
        ]);
        string plotFile = plotPath ?? $"rescale-hcd-budget-x{net.Scale}.svg";
        CliContext.At(plotFile, () => ChartRenderer.Write(plotFile, [chart]));
        if (!json) cli.Out.WriteLine($"plot: {plotFile}");
        else
            cli.Out.WriteLine(new JsonObject
            {
                ["model"] = modelPath, ["scale"] = net.Scale, ["plain_psnr_y"] = runs[0].Report.PsnrY, ["plot"] = plotFile, ["hcd_warmup_seconds"] = warmUp,
                ["runs"] = new JsonArray(runs.Select(r => (JsonNode)new JsonObject
                {
                    ["budget_s_per_mp"] = r.Budget, ["hcd_psnr_y"] = r.Report.CollaborativePsnrY,
                    ["gain_db"] = r.Report.CollaborativePsnrY - r.Report.PsnrY, ["seconds_per_mp"] = r.Report.CollaborativeSecondsPerMegapixel,
                }).ToArray()),
            }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return CliContext.Success;
    }

    private static int Sweep(CliContext cli, string[] modelPaths, string folder, string? codecName, string qualityList, string? plotPath,
        bool json, RescalerOptions rescalerOptions, string? reportPath)
    {
        if (codecName is not null && codecName.Contains(':'))
            throw new CliException($"with --sweep, --compress names only the codec (jpeg or webp), got '{codecName}'", CliContext.UsageError);
        var format = codecName is null ? ImageFormat.Jpeg : Usage(() => LossyCodec.ParseFormat(codecName));
        var qualities = Usage(() => CompressionSweep.ParseQualities(qualityList));
        var nets = new List<RescaleNetwork>();
        try
        {
            foreach (var path in modelPaths) nets.Add(CliContext.LoadModel(path, cli.Device));
            var methods = nets.Select((n, i) => (Name: MethodName(modelPaths[i], n), Rescaler: new Rescaler(n, rescalerOptions))).ToList();
            if (methods.Select(m => m.Rescaler.Scale).Distinct().Count() > 1)
                throw new CliException("the models of a sweep must share one scale: " + string.Join(", ", methods.Select(m => $"{m.Name} ×{m.Rescaler.Scale}")), CliContext.UsageError);
            SweepResult result = null!;
            ComparisonResult? comparison = null;
            // The report's crops show the lowest quality swept, where the methods differ most.
            var cropCodec = new LossyCodec(format, qualities.Min());
            var compared = methods.Select(m => new ComparedModel(m.Name, m.Rescaler)).ToList();
            if (json)
            {
                result = CliContext.At(folder, () => CompressionSweep.Run(methods, folder, format, qualities));
                if (reportPath is not null) comparison = CliContext.At(folder, () => VisualComparison.Run(compared, folder, cropCodec.Apply));
            }
            else
                cli.Console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask($"sweep {format.ToString().ToLowerInvariant()} ×{methods[0].Rescaler.Scale}");
                        result = CliContext.At(folder, () => CompressionSweep.Run(methods, folder, format, qualities, (done, total) =>
                        {
                            task.MaxValue = total;
                            task.Value = done;
                        }));
                        if (reportPath is null) return;
                        var crops = ctx.AddTask($"report crops at {cropCodec}");
                        comparison = CliContext.At(folder, () => VisualComparison.Run(compared, folder, cropCodec.Apply, progress: (done, total) =>
                        {
                            crops.MaxValue = total;
                            crops.Value = done;
                        }));
                    });
            string plotFile = plotPath ?? $"rescale-sweep-{result.CodecName}-x{result.Scale}.svg";
            string title = $"Round trip ×{result.Scale} with the LR compressed ({Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}, {result.ImageCount} images)";
            CliContext.At(plotFile, () => ChartRenderer.Write(plotFile, [result.ToChart(title)]));
            if (reportPath is not null)
                EvalReport.Write(reportPath, comparison!, EvalReport.Settings(folder, modelPaths, nets, rescalerOptions,
                    $"LR compressed with {result.CodecName} at qualities {string.Join(", ", result.Qualities)}; scores and crops below the plot at {cropCodec} (the lowest)", null),
                    result, title);
            if (json)
            {
                cli.Out.WriteLine(new JsonObject
                {
                    ["codec"] = result.CodecName, ["scale"] = result.Scale, ["images"] = result.ImageCount, ["plot"] = plotFile, ["report"] = reportPath,
                    ["qualities"] = new JsonArray(result.Qualities.Select(q => (JsonNode)q).ToArray()),
                    ["series"] = new JsonArray(result.Series.Select(s => (JsonNode)new JsonObject
                    {
                        ["method"] = s.Method,
                        ["psnr_y"] = new JsonArray(s.PsnrY.Select(v => (JsonNode)v).ToArray()),
                        ["ssim_y"] = new JsonArray(s.SsimY.Select(v => (JsonNode)v).ToArray()),
                    }).ToArray()),
                }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return CliContext.Success;
            }
            var table = new Table().Border(TableBorder.Rounded).AddColumn("quality");
            table.Title = new TableTitle($"mean Y-PSNR (dB) / SSIM, LR through {result.CodecName}");
            foreach (var s in result.Series) table.AddColumn(Markup.Escape(s.Method));
            for (int k = 0; k < result.Qualities.Count; k++)
                table.AddRow([result.Qualities[k].ToString(CultureInfo.InvariantCulture),
                    .. result.Series.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.PsnrY[k]:0.00} / {s.SsimY[k]:0.0000}"))]);
            cli.Console.Write(table);
            cli.Out.WriteLine($"plot: {plotFile}");
            if (reportPath is not null) cli.Out.WriteLine($"report: {reportPath}");
            return CliContext.Success;
        }
        finally
        {
            foreach (var n in nets) n.Dispose();
        }
    }

    /// <summary>A series name: the architecture and the file name, e.g. "IRN (irn-x2)".</summary>
    internal static string MethodName(string path, RescaleNetwork net) => $"{net.Architecture} ({Path.GetFileNameWithoutExtension(path)})";

    private static T Usage<T>(Func<T> parse)
    {
        try { return parse(); }
        catch (FormatException e) { throw new CliException(e.Message, CliContext.UsageError); }
    }

    internal static JsonObject ToJson(EvaluationReport report, int scale, string model, LossyCodec? codec) => new()
    {
        ["model"] = model,
        ["scale"] = scale,
        ["compress"] = codec?.ToString(),
        ["psnr_y"] = report.PsnrY,
        ["ssim_y"] = report.SsimY,
        ["bicubic_psnr_y"] = report.BicubicPsnrY,
        ["bicubic_ssim_y"] = report.BicubicSsimY,
        ["hcd_psnr_y"] = report.CollaborativePsnrY,
        ["hcd_ssim_y"] = report.CollaborativeSsimY,
        ["hcd_seconds_per_megapixel"] = report.CollaborativeSecondsPerMegapixel,
        ["images"] = new JsonArray(report.Images.Select(i => (JsonNode)new JsonObject
        {
            ["name"] = i.Name, ["width"] = i.Width, ["height"] = i.Height, ["psnr_y"] = i.PsnrY, ["ssim_y"] = i.SsimY,
            ["bicubic_psnr_y"] = i.BicubicPsnrY, ["bicubic_ssim_y"] = i.BicubicSsimY,
            ["hcd_psnr_y"] = i.CollaborativePsnrY, ["hcd_ssim_y"] = i.CollaborativeSsimY, ["hcd_seconds"] = i.CollaborativeSeconds,
        }).ToArray()),
    };
}
