// PipelineTraining: an ML.NET pipeline (MLContext, ML.NET's LoadImages, our estimators), fitted, saved with
// mlContext.Model.Save and loaded with mlContext.Model.Load in a new process.
//
//   LoadImages → ModCropImages → InvertibleDownscaler (SAIN, fine-tuned from models/sain-x2-jpeg.safetensors)
//     → CollaborativeLrOptimizer (HCD through DiffJpeg Q75) → CompressImages (JPEG 75) → CompressionAwareUpscaler → Evaluate
//
// Fits on a training folder, evaluates on a validation folder, saves the model zip, then re-launches itself in a NEW
// PROCESS with --load to evaluate the saved zip there, and exits 1 unless both processes measure the same metrics.
//
//   dotnet run -c Release --project samples/PipelineTraining                 # small budget (about a minute)
//   dotnet run -c Release --project samples/PipelineTraining -- --full       # minutes of fine-tuning, default HCD, full-size Set5
//   options: --data DIR (default ../shared/datasets/T91, else the fixture images)  --val DIR (default ../shared/datasets/Set5,
//            else the fixture images)  --model OUT.zip  --minutes M (--full's fine-tuning budget, default 3)  --threads N
//            --init M.safetensors|none (warm start; default models/sain-x2-jpeg.safetensors)
//            --hcd-iters N (HCD iterations per stage; default 15 with --full, else 2)
//   internal: --load P.zip --val DIR --metrics-out M.json  (what the parent runs in the child process)
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML;
using MLNet.Rescale.ML.Rescaling;
using TorchSharp;
using MLNet.Rescale.Training;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

Arguments a;
try
{
    a = Arguments.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"PipelineTraining: {e.Message}");
    return 2;
}
if (a.Threads is int t) torch.set_num_threads(t);

try
{
    return a.Load is { } zip ? EvaluateSaved(zip, a) : TrainSaveReload(a);
}
catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or ArgumentException or UnauthorizedAccessException
    or System.Reflection.TargetInvocationException)
{
    // Bad input (a missing folder, an unreadable image or model) is one clear line, not a stack trace. ML.NET's loader
    // calls ours by reflection, so the cause is the innermost exception.
    while (e.InnerException is { } inner) e = inner;
    Console.Error.WriteLine($"PipelineTraining: {e.Message}");
    return 1;
}

static int TrainSaveReload(Arguments a)
{
    string root = FindRepoRoot();
    string work = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "mlnet-rescale-pipelinetraining")).FullName;
    string shared = Path.GetFullPath(Path.Combine(root, "..", "shared", "datasets"));
    string train = a.Data ?? (Directory.Exists(Path.Combine(shared, "T91")) ? Path.Combine(shared, "T91") : FixtureFolder(root, work));
    string val = a.Val ?? (Directory.Exists(Path.Combine(shared, "Set5")) ? Path.Combine(shared, "Set5") : FixtureFolder(root, work));
    string? init = a.Init == "none" ? null : a.Init ?? Path.Combine(root, "models", "sain-x2-jpeg.safetensors");
    string modelPath = Path.GetFullPath(a.Model ?? Path.Combine(work, "sain-hcd-jpeg75.zip"));
    const int QuickCrop = 64;
    if (!a.Full)
    {
        // The small budget evaluates centre crops: HCD on full-size Set5 takes minutes per image on two cores.
        val = CentreCrops(val, Path.Combine(work, $"val-crops-{QuickCrop}"), QuickCrop);
    }
    Console.WriteLine($"mode      {(a.Full ? "--full" : "small budget (--full for the real run)")}, {torch.get_num_threads()} libtorch threads");
    Console.WriteLine($"train on  {train}");
    Console.WriteLine($"evaluate  {val}{(a.Full ? "" : $" ({QuickCrop}×{QuickCrop} centre crops)")}");
    Console.WriteLine($"warm start {init ?? "none (from scratch)"}");

    var ml = new MLContext(seed: 1);                   // every component's seed: training, HCD's starts, the upscaling latent
    var downscaler = new InvertibleDownscaler.Options
    {
        Architecture = TrainingArchitecture.Sain, Scale = 2, Codec = "jpeg:75",
        InitFrom = init,                               // every parameter of the same name and shape starts from the model
        LearningRate = 1e-4,                           // fine-tuning: a fifth of the shipped model's rate
        BatchSize = a.Full ? 16 : 4, PatchSize = 48,
        Iterations = a.Full ? 1_000_000 : 3,           // --full: the time budget ends the run
        Minutes = a.Full ? a.Minutes : 0,
        Progress = new TrainingReport(a.Full ? 25 : 1),
    };
    var hcd = new CollaborativeLrOptimizer.Options { Codec = "jpeg:75" };                          // defaults: 15 + 15 iterations
    if (!a.Full || a.HcdIterations is not null) hcd.HrIterations = hcd.LrIterations = a.HcdIterations ?? 2;

    var pipeline = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "ImagePath")
        .Append(ml.Transforms.ModCropImages("Image", scale: 2))                  // as `rescale eval`: sides cut to multiples of 2
        .Append(ml.Transforms.InvertibleDownscaler(downscaler))                  // Fit trains SAIN on the Image column → LR
        .Append(ml.Transforms.CollaborativeLrOptimizer(hcd))                     // HCD, LR stage through DiffJpeg Q75
        .Append(ml.Transforms.CompressImages("LR", "LR", "jpeg:75"))             // what the client receives
        .Append(ml.Transforms.CompressionAwareUpscaler());                       // the network's inverse half → Upscaled

    var clock = Stopwatch.StartNew();
    Console.WriteLine("fit: training SAIN ×2 through JPEG 75 …");
    using var model = pipeline.Fit(ml.Rescaling().LoadImagePaths(train));
    Console.WriteLine($"fit: done in {clock.Elapsed.TotalSeconds:0} s");

    var valData = ml.Rescaling().LoadImagePaths(val);
    var names = Names(valData);
    clock.Restart();
    Console.WriteLine($"evaluate: {names.Count} images (HCD {hcd.HrIterations} + {hcd.LrIterations} iterations each) …");
    RescaleMetrics metrics;
    using (new Heartbeat("evaluate", clock))
        metrics = ml.Rescaling().Evaluate(model.Transform(valData), progress: new ImageReport(names, clock));
    Print("this process", metrics, names);
    Console.WriteLine($"evaluate: {clock.Elapsed.TotalSeconds:0} s");

    // ML.NET writes the zip in place; a temporary file renamed into place keeps an older model whole if saving fails.
    string temporary = modelPath + $".{Environment.ProcessId}.tmp";
    ml.Model.Save(model, valData.Schema, temporary);
    File.Move(temporary, modelPath, overwrite: true);
    Console.WriteLine($"saved     {modelPath} ({new FileInfo(modelPath).Length / 1024} KiB)");

    // A new process loads the zip and evaluates the same folder; its metrics come back as JSON.
    string metricsPath = Path.Combine(work, $"reloaded-{Environment.ProcessId}.json");
    clock.Restart();
    Console.WriteLine("reload: evaluating the saved model in a new process …");
    int exit = RunSelf(["--load", modelPath, "--val", val, "--metrics-out", metricsPath, "--threads", torch.get_num_threads().ToString()]);
    if (exit != 0)
    {
        Console.Error.WriteLine($"PipelineTraining: the reloading process exited {exit}");
        return 1;
    }
    var reloaded = JsonNode.Parse(File.ReadAllText(metricsPath))!;
    File.Delete(metricsPath);
    Console.WriteLine($"reload: {clock.Elapsed.TotalSeconds:0} s");

    // Compare: the same images, the same per-image scores and means (JSON doubles round-trip exactly).
    var images = reloaded["images"]!.AsArray();
    double maxDiff = 0;
    bool same = images.Count == metrics.PerImage.Count;
    for (int i = 0; same && i < images.Count; i++)
    {
        same &= images[i]!["name"]!.GetValue<string>() == names[(int)metrics.PerImage[i].Row];
        maxDiff = Math.Max(maxDiff, Math.Abs(images[i]!["psnr_y"]!.GetValue<double>() - metrics.PerImage[i].PsnrY));
        maxDiff = Math.Max(maxDiff, Math.Abs(images[i]!["ssim_y"]!.GetValue<double>() - metrics.PerImage[i].SsimY));
    }
    if (same)
    {
        maxDiff = Math.Max(maxDiff, Math.Abs(reloaded["psnr_y"]!.GetValue<double>() - metrics.PsnrY));
        maxDiff = Math.Max(maxDiff, Math.Abs(reloaded["ssim_y"]!.GetValue<double>() - metrics.SsimY));
    }
    same &= maxDiff <= 1e-9;
    Console.WriteLine($"reloaded  Set mean Y-PSNR {reloaded["psnr_y"]!.GetValue<double>():0.0000} dB, SSIM {reloaded["ssim_y"]!.GetValue<double>():0.000000}");
    Console.WriteLine(same
        ? $"same metrics after reload in a new process (largest difference {maxDiff:G3})"
        : $"DIFFERENT metrics after reload (largest difference {maxDiff:G3})");
    return same ? 0 : 1;
}

// The child: load the zip, evaluate the folder, write the metrics as JSON (atomically).
static int EvaluateSaved(string zip, Arguments a)
{
    string val = a.Val ?? throw new ArgumentException("--load needs --val DIR");
    var ml = new MLContext(seed: 0);                                             // the seeds come from the model file
    var model = ml.Model.Load(zip, out var inputSchema);
    using var owner = model as IDisposable;                                      // a loaded chain frees its networks
    Console.WriteLine($"  [child {Environment.ProcessId}] loaded {zip} (input: {string.Join(", ", inputSchema.Select(c => $"{c.Name} {c.Type}"))})");
    var data = ml.Rescaling().LoadImagePaths(val, inputSchema[0].Name);
    var names = Names(data);
    var clock = Stopwatch.StartNew();
    RescaleMetrics metrics;
    using (new Heartbeat("  [child] evaluate", clock))
        metrics = ml.Rescaling().Evaluate(model.Transform(data), progress: new ImageReport(names, clock, "  [child] "));
    Print("  [child] new process", metrics, names);
    if (a.MetricsOut is { } path)
    {
        var json = new JsonObject
        {
            ["psnr_y"] = metrics.PsnrY, ["ssim_y"] = metrics.SsimY, ["crop_border"] = metrics.CropBorder,
            ["images"] = new JsonArray(metrics.PerImage.Select(m => (JsonNode)new JsonObject
            {
                ["name"] = names[(int)m.Row], ["psnr_y"] = m.PsnrY, ["ssim_y"] = m.SsimY,
            }).ToArray()),
        };
        string tmp = path + $".{Environment.ProcessId}.tmp";
        File.WriteAllText(tmp, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, path, overwrite: true);
    }
    return 0;
}

static List<string> Names(IDataView data) =>
    data.GetColumn<string>(data.Schema[0].Name).Select(p => Path.GetFileNameWithoutExtension(p)).ToList();

static void Print(string who, RescaleMetrics m, List<string> names)
{
    Console.WriteLine($"{who}: Y-PSNR / SSIM (crop border {m.CropBorder})");
    foreach (var i in m.PerImage)
        Console.WriteLine($"  {names[(int)i.Row],-12} {i.Width,4}×{i.Height,-4} {i.PsnrY,8:0.0000} dB  {i.SsimY:0.000000}");
    Console.WriteLine($"  {"mean",-12} {"",9} {m.PsnrY,8:0.0000} dB  {m.SsimY:0.000000}");
}

// Runs this sample again (the apphost, or `dotnet PipelineTraining.dll`), sharing the console.
static int RunSelf(string[] arguments)
{
    string self = Environment.ProcessPath ?? "dotnet";
    var start = new ProcessStartInfo(self) { UseShellExecute = false };
    if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(Arguments).Assembly.Location);
    foreach (var arg in arguments) start.ArgumentList.Add(arg);
    using var child = Process.Start(start) ?? throw new InvalidOperationException($"could not start {self}");
    child.WaitForExit();
    return child.ExitCode;
}

// bird.png and butterfly.png of the fixtures (the folder also holds LR versions, which are not HR images).
static string FixtureFolder(string root, string work)
{
    string folder = Directory.CreateDirectory(Path.Combine(work, "fixtures")).FullName;
    foreach (var name in new[] { "bird.png", "butterfly.png" })
        File.Copy(Path.Combine(root, "tests", "fixtures", "images", name), Path.Combine(folder, name), overwrite: true);
    return folder;
}

static string CentreCrops(string source, string target, int side)
{
    Directory.CreateDirectory(target);
    foreach (var old in Directory.EnumerateFiles(target)) File.Delete(old);
    foreach (var file in MLNet.Rescale.Evaluation.Evaluator.ImageFiles(source))
    {
        var image = ImageFile.Read(file);
        int w = Math.Min(side, image.Width), h = Math.Min(side, image.Height);
        ImageFile.Write(image.Crop((image.Width - w) / 2, (image.Height - h) / 2, w, h),
            Path.Combine(target, Path.GetFileNameWithoutExtension(file) + ".png"));
    }
    return target;
}

static string FindRepoRoot()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "MLNet.Rescale.sln"))) return d.FullName;
    return Directory.GetCurrentDirectory();
}

/// <summary>The command line.</summary>
sealed record Arguments(bool Full, string? Data, string? Val, string? Model, string? Init, double Minutes, int? HcdIterations, int? Threads, string? Load,
    string? MetricsOut)
{
    public static Arguments Parse(string[] args)
    {
        var a = new Arguments(false, null, null, null, null, 3, null, null, null, null);
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            a = args[i] switch
            {
                "--full" => a with { Full = true },
                "--data" => a with { Data = Folder(Value()) },
                "--val" => a with { Val = Folder(Value()) },
                "--model" => a with { Model = Value() },
                "--init" => a with { Init = Value() },
                "--minutes" => a with { Minutes = double.TryParse(Value(), CultureInfo.InvariantCulture, out var m) && m > 0 ? m : throw new ArgumentException("--minutes must be a positive number") },
                "--hcd-iters" => a with { HcdIterations = int.TryParse(Value(), out var h) && h >= 0 ? h : throw new ArgumentException("--hcd-iters must be an integer ≥ 0") },
                "--threads" => a with { Threads = int.TryParse(Value(), out var n) && n > 0 ? n : throw new ArgumentException("--threads must be a positive integer") },
                "--load" => a with { Load = Value() },
                "--metrics-out" => a with { MetricsOut = Value() },
                _ => throw new ArgumentException($"unknown option '{args[i]}' (see the comment at the top of samples/PipelineTraining/Program.cs)"),
            };
        }
        return a;
    }

    private static string Folder(string path) =>
        Directory.Exists(path) ? Path.GetFullPath(path) : throw new ArgumentException($"{path}: folder not found");
}

/// <summary>Prints training progress every <c>every</c> iterations (and the last one).</summary>
sealed class TrainingReport(int every) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress p)
    {
        if (p.Iteration % every != 0 && p.Iteration != 1 && p.Remaining > TimeSpan.Zero) return;
        Console.WriteLine($"  iteration {p.Iteration}, loss {p.Loss:0.0000}, {p.Elapsed.TotalSeconds:0} s elapsed, ~{p.Remaining.TotalSeconds:0} s left");
    }
}

/// <summary>Prints each image's scores as Evaluate computes them.</summary>
sealed class ImageReport(List<string> names, Stopwatch clock, string prefix = "  ") : IProgress<ImageMetrics>
{
    private int done;

    public void Report(ImageMetrics m) =>
        Console.WriteLine($"{prefix}{++done}/{names.Count} {names[(int)m.Row]}: {m.PsnrY:0.00} dB ({clock.Elapsed.TotalSeconds:0} s)");
}

/// <summary>A line every 30 s while a long step runs, so a slow HCD image does not look like a hang.</summary>
sealed class Heartbeat : IDisposable
{
    private readonly Timer timer;

    public Heartbeat(string what, Stopwatch clock) =>
        timer = new Timer(_ => Console.WriteLine($"  … {what}: {clock.Elapsed.TotalSeconds:0} s"), null, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));

    public void Dispose() => timer.Dispose();
}
