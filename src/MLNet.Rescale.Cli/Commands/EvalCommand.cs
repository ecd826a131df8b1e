using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using Spectre.Console;

namespace MLNet.Rescale.Cli.Commands;

/// <summary>
/// <c>rescale eval --model M --data DIR [--json] [--collaborative ...]</c>: mean Y-PSNR/SSIM of the round trip over a
/// folder (modcrop, crop border = scale, BT.601 luma) next to the MATLAB-bicubic down/up baseline, with a progress
/// bar; with <c>--collaborative</c> also the round trip of the HCD-optimized LR, its gain and its cost.
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = CliContext.ModelOption();
        var data = new Option<string>("--data") { Description = "Folder of HR images.", Required = true, HelpName = "DIR" };
        var json = new Option<bool>("--json") { Description = "Print JSON (psnr_y, ssim_y, bicubic_psnr_y, bicubic_ssim_y, images)." };
        var seed = CliContext.SeedOption();
        var tile = CliContext.TileOption();
        var threads = CliContext.ThreadsOption();
        var hcd = new CollaborativeArguments();
        var command = new Command("eval", "Round-trip every image of a folder and report Y-PSNR/SSIM next to bicubic.")
        {
            model, data, json, seed, tile, threads,
        };
        foreach (var o in hcd.All) command.Options.Add(o);
        command.SetCliAction((r, cli) =>
        {
            CliContext.ApplyThreads(r.GetValue(threads));
            string modelPath = r.GetValue(model)!, folder = r.GetValue(data)!;
            var collaborativeOptions = hcd.Read(r);
            using var net = CliContext.LoadModel(modelPath);
            var rescaler = new Rescaler(net, new RescalerOptions { Seed = r.GetValue(seed), TileSize = r.GetValue(tile) });
            var collaborative = collaborativeOptions is null ? null : new CollaborativeOptimizer(net, collaborativeOptions);
            EvaluationReport report = null!;
            if (r.GetValue(json))
            {
                report = CliContext.At(folder, () => Evaluator.Run(rescaler, folder, collaborative: collaborative));
                cli.Out.WriteLine(ToJson(report, net.Scale, modelPath).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
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
                        int steps = files.Sum(f => CliContext.At(f, () => { var im = ImageFile.Read(f); int w = im.Width, h = im.Height; return collaborative.TotalSteps(rescaler, w - w % net.Scale, h - h % net.Scale); }));
                        hcdTask = ctx.AddTask("HCD iterations", maxValue: steps);
                    }
                    report = CliContext.At(folder, () => Evaluator.Run(rescaler, folder, progress: (done, _) => task.Value = done,
                        collaborative: collaborative, step: hcdTask is null ? null : () => hcdTask.Increment(1)));
                });
            string F(double v, string fmt) => v.ToString(fmt, CultureInfo.InvariantCulture);
            var table = new Table().Border(TableBorder.Rounded).AddColumns("image", "size", $"{net.Architecture} Y-PSNR", "SSIM");
            if (collaborative is not null) table.AddColumns("+HCD Y-PSNR", "SSIM", "gain");
            table.AddColumns("bicubic Y-PSNR", "SSIM");
            IEnumerable<string> Hcd(double? psnr, double? ssim, double plain) => collaborative is null ? []
                : [F(psnr!.Value, "0.00"), F(ssim!.Value, "0.0000"), F(psnr.Value - plain, "+0.00;-0.00")];
            foreach (var i in report.Images)
                table.AddRow([i.Name, $"{i.Width}×{i.Height}", F(i.PsnrY, "0.00"), F(i.SsimY, "0.0000"),
                    .. Hcd(i.CollaborativePsnrY, i.CollaborativeSsimY, i.PsnrY), F(i.BicubicPsnrY, "0.00"), F(i.BicubicSsimY, "0.0000")]);
            table.AddRow(["[bold]mean[/]", "", $"[bold]{F(report.PsnrY, "0.00")}[/]", F(report.SsimY, "0.0000"),
                .. Hcd(report.CollaborativePsnrY, report.CollaborativeSsimY, report.PsnrY), F(report.BicubicPsnrY, "0.00"), F(report.BicubicSsimY, "0.0000")]);
            cli.Console.Write(table);
            if (collaborative is not null)
                cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{CollaborativeArguments.Describe(collaborativeOptions!)}: {report.CollaborativeSecondsPerMegapixel:0.0} s per HR megapixel"));
            return CliContext.Success;
        });
        return command;
    }

    private static JsonObject ToJson(EvaluationReport report, int scale, string model) => new()
    {
        ["model"] = model,
        ["scale"] = scale,
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
