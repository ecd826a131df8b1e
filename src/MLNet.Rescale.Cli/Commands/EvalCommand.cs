using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Inference;
using Spectre.Console;

namespace MLNet.Rescale.Cli.Commands;

/// <summary>
/// <c>rescale eval --model M --data DIR [--json]</c>: mean Y-PSNR/SSIM of the round trip over a folder (modcrop,
/// crop border = scale, BT.601 luma) next to the MATLAB-bicubic down/up baseline, with a progress bar.
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
        var command = new Command("eval", "Round-trip every image of a folder and report Y-PSNR/SSIM next to bicubic.")
        {
            model, data, json, seed, tile, threads,
        };
        command.SetCliAction((r, cli) =>
        {
            CliContext.ApplyThreads(r.GetValue(threads));
            string modelPath = r.GetValue(model)!, folder = r.GetValue(data)!;
            using var net = CliContext.LoadModel(modelPath);
            var rescaler = new Rescaler(net, new RescalerOptions { Seed = r.GetValue(seed), TileSize = r.GetValue(tile) });
            EvaluationReport report = null!;
            if (r.GetValue(json))
            {
                report = CliContext.At(folder, () => Evaluator.Run(rescaler, folder));
                cli.Out.WriteLine(ToJson(report, net.Scale, modelPath).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return CliContext.Success;
            }
            cli.Console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask($"eval ×{net.Scale}", maxValue: CliContext.At(folder, () => Evaluator.ImageFiles(folder)).Count);
                    report = CliContext.At(folder, () => Evaluator.Run(rescaler, folder, progress: (done, _) => task.Value = done));
                });
            var table = new Table().Border(TableBorder.Rounded).AddColumns("image", "size", $"{net.Architecture} Y-PSNR", "SSIM", "bicubic Y-PSNR", "SSIM");
            string F(double v, string fmt) => v.ToString(fmt, CultureInfo.InvariantCulture);
            foreach (var i in report.Images)
                table.AddRow(i.Name, $"{i.Width}×{i.Height}", F(i.PsnrY, "0.00"), F(i.SsimY, "0.0000"), F(i.BicubicPsnrY, "0.00"), F(i.BicubicSsimY, "0.0000"));
            table.AddRow("[bold]mean[/]", "", $"[bold]{F(report.PsnrY, "0.00")}[/]", F(report.SsimY, "0.0000"), F(report.BicubicPsnrY, "0.00"), F(report.BicubicSsimY, "0.0000"));
            cli.Console.Write(table);
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
        ["images"] = new JsonArray(report.Images.Select(i => (JsonNode)new JsonObject
        {
            ["name"] = i.Name, ["width"] = i.Width, ["height"] = i.Height, ["psnr_y"] = i.PsnrY, ["ssim_y"] = i.SsimY,
            ["bicubic_psnr_y"] = i.BicubicPsnrY, ["bicubic_ssim_y"] = i.BicubicSsimY,
        }).ToArray()),
    };
}
