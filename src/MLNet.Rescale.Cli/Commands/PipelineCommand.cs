using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Rescale.ML;
using Spectre.Console;

namespace MLNet.Rescale.Cli.Commands;

/// <summary>
/// <c>rescale pipeline P.zip --data DIR [--label Image] [--score Upscaled] [--json]</c>: loads a pipeline saved with
/// <c>mlContext.Model.Save</c>, feeds it the image files of a folder through the text column its input schema names,
/// and prints the Y-PSNR/SSIM of the score column against the label column, per image and mean.
/// </summary>
internal static class PipelineCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Pipeline model zip (mlContext.Model.Save).", HelpName = "P.zip" };
        var data = new Option<string>("--data") { Description = "Folder of HR images.", Required = true, HelpName = "DIR" };
        var label = new Option<string>("--label") { Description = "Column of the reference images.", DefaultValueFactory = _ => "Image", HelpName = "COLUMN" };
        var score = new Option<string>("--score") { Description = "Column of the restored images.", DefaultValueFactory = _ => "Upscaled", HelpName = "COLUMN" };
        var json = new Option<bool>("--json") { Description = "Print JSON (psnr_y, ssim_y, crop_border, images)." };
        var threads = CliContext.ThreadsOption();
        var command = new Command("pipeline", "Evaluate a saved pipeline on a folder of images: Y-PSNR/SSIM per image and mean.")
        {
            model, data, label, score, json, threads,
        };
        command.SetCliAction((r, cli) =>
        {
            CliContext.ApplyThreads(r.GetValue(threads));
            string modelPath = r.GetValue(model)!, folder = r.GetValue(data)!;
            var context = new MLContext(seed: 0);
            if (!File.Exists(modelPath)) throw new CliException($"{modelPath}: model file not found", CliContext.Failure);
            var pipeline = Pipeline(modelPath, () => context.Model.Load(modelPath, out var schema) is var p ? (Transformer: p, Schema: schema) : default);
            using var owner = pipeline.Transformer as IDisposable;   // frees the pipeline's networks
            var pathColumn = pipeline.Schema.Where(c => !c.IsHidden && c.Type is TextDataViewType).Select(c => c.Name).FirstOrDefault()
                ?? throw new CliException($"{modelPath}: the pipeline's input schema has no text (image path) column", CliContext.Failure);
            var input = CliContext.At(folder, () => context.Rescaling().LoadImagePaths(folder, pathColumn));
            var names = input.GetColumn<string>(pathColumn).Select(p => Path.GetFileNameWithoutExtension(p)).ToList();
            var metrics = Pipeline(modelPath, () => context.Rescaling().Evaluate(pipeline.Transformer.Transform(input), r.GetValue(label)!, r.GetValue(score)!));
            if (r.GetValue(json))
            {
                cli.Out.WriteLine(new JsonObject
                {
                    ["model"] = modelPath,
                    ["crop_border"] = metrics.CropBorder,
                    ["psnr_y"] = metrics.PsnrY,
                    ["ssim_y"] = metrics.SsimY,
                    ["images"] = new JsonArray(metrics.PerImage.Select(i => (JsonNode)new JsonObject
                    {
                        ["name"] = names[(int)i.Row], ["width"] = i.Width, ["height"] = i.Height, ["psnr_y"] = i.PsnrY, ["ssim_y"] = i.SsimY,
                    }).ToArray()),
                }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return CliContext.Success;
            }
            string F(double v, string fmt) => v.ToString(fmt, CultureInfo.InvariantCulture);
            var table = new Table().Border(TableBorder.Rounded).AddColumns("image", "size", "Y-PSNR", "SSIM");
            foreach (var i in metrics.PerImage) table.AddRow(names[(int)i.Row], $"{i.Width}×{i.Height}", F(i.PsnrY, "0.00"), F(i.SsimY, "0.0000"));
            table.AddRow("[bold]mean[/]", "", $"[bold]{F(metrics.PsnrY, "0.00")}[/]", F(metrics.SsimY, "0.0000"));
            cli.Console.Write(table);
            return CliContext.Success;
        });
        return command;
    }

    // A model that cannot be read, or a pipeline that does not fit the data (a missing column, a wrong type), is bad
    // input, not a bug. ML.NET's loader calls ours by reflection, so the cause is the innermost exception.
    private static T Pipeline<T>(string modelPath, Func<T> body)
    {
        try { return body(); }
        catch (Exception e) when (e is InvalidOperationException or InvalidDataException or FormatException or ArgumentException
            or TargetInvocationException or IOException)
        {
            var cause = e;
            while (cause.InnerException is { } inner) cause = inner;
            throw new CliException($"{modelPath}: {CliContext.OneLine(cause.Message)}", CliContext.Failure, e);
        }
    }
}
