using System.CommandLine;
using System.Globalization;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using MLNet.Rescale.IO;
using Spectre.Console;

namespace MLNet.Rescale.Cli;

/// <summary>
/// What every command shares: the output writers, a Spectre console over stdout, the common options, and the
/// error policy — an expected error (bad or missing file, wrong model, size mismatch, libtorch error) becomes ONE
/// line on stderr naming the file and the problem and exit code 1; never a stack trace.
/// </summary>
internal sealed class CliContext
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int UsageError = 2;
    public const int NotImplemented = 2;

    public CliContext(TextWriter stdout, TextWriter stderr)
    {
        Out = stdout;
        Error = stderr;
        bool terminal = ReferenceEquals(stdout, System.Console.Out) && !System.Console.IsOutputRedirected;
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!terminal) Console.Profile.Width = 120;
    }

    /// <summary>Standard output.</summary>
    public TextWriter Out { get; }

    /// <summary>Where this invocation runs the networks (<c>--device</c>; CPU unless asked).</summary>
    public Device Device { get; set; } = CPU;

    /// <summary>
    /// <c>--device</c>, accepted by every command: cpu, cuda or cuda:N. CUDA needs the application to reference a
    /// libtorch CUDA package instead of libtorch-cpu-linux-x64 (see the README).
    /// </summary>
    public static readonly Option<string> DeviceOption = new("--device")
    {
        Description = "Where the networks run: cpu (default), cuda or cuda:N (needs a libtorch CUDA package; see the README).",
        DefaultValueFactory = _ => "cpu",
        HelpName = "cpu|cuda[:N]",
        Recursive = true,
    };

    /// <summary>Parses and checks a <c>--device</c> value.</summary>
    public static Device ParseDevice(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        if (t == "cpu") return CPU;
        if (t == "cuda" || t.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (t.Length > 5 && !int.TryParse(t.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out _))
                throw new CliException($"--device: '{text}' is not cuda:N with a device number N", UsageError);
            TorchRuntime.EnsureStarted();
            if (!cuda.is_available())
                throw new CliException($"--device {text}: this libtorch has no CUDA device (the tool is built with libtorch-cpu-linux-x64, or no GPU is visible); see the README (GPU) for swapping the libtorch package", Failure);
            return new Device(t);
        }
        throw new CliException($"--device must be cpu, cuda or cuda:N, got '{text}'", UsageError);
    }
    /// <summary>Standard error.</summary>
    public TextWriter Error { get; }
    /// <summary>Spectre console writing to <see cref="Out"/> (plain text when it is not a terminal).</summary>
    public IAnsiConsole Console { get; }

    /// <summary>Prints one error line.</summary>
    public void Fail(string message) => Error.WriteLine("rescale: error: " + OneLine(message));

    // ---- common options ---------------------------------------------------------------------

    public static Option<string> ModelOption(string description = "Model file (.safetensors or .pth), or the name of a bundled model: irn-x2 (default), irn-x4, sain-x2-jpeg, sain-x4-jpeg, sain-x2-webp.") =>
        new("--model", "-m") { Description = description, DefaultValueFactory = _ => "irn-x2", HelpName = "M.safetensors|NAME" };

    /// <summary>
    /// A model file's path: the path itself when it names a file, else the bundled model of that name (the models
    /// package beside the tool), else the path (whose loading then says it is missing).
    /// </summary>
    public static string ModelPath(string pathOrName) =>
        File.Exists(pathOrName) ? pathOrName : PretrainedModels.PathOf(pathOrName) is { } bundled && File.Exists(bundled) ? bundled : pathOrName;

    public static Option<string> OutputOption(string description, string helpName) =>
        new("--output", "-o") { Description = description, Required = true, HelpName = helpName };

    public static Option<int> ThreadsOption() => new("--threads", "-t")
    {
        Description = "Intra-op threads of libtorch.",
        DefaultValueFactory = _ => Environment.ProcessorCount,
        HelpName = "T",
    };

    public static Option<int> TileOption()
    {
        var option = new Option<int>("--tile")
        {
            Description = "Tile side in LR pixels for large images (0 disables tiling).",
            DefaultValueFactory = _ => new Inference.RescalerOptions().TileSize,
            HelpName = "N",
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 0)
                result.AddError($"--tile must be ≥ 0 (0 disables tiling), got {result.GetValueOrDefault<int>().ToString(CultureInfo.InvariantCulture)}");
        });
        return option;
    }

    public static Option<ulong> SeedOption() => new("--seed")
    {
        Description = "Seed of the latent drawn for upscaling.",
        DefaultValueFactory = _ => 0UL,
        HelpName = "S",
    };

    public static Option<double> GaussianScaleOption() => new("--gaussian-scale")
    {
        Description = "Spread of the latent drawn for upscaling (1 = as trained; 0 = the deterministic serving latent: IRN 0, SAIN the mixture's expectation, as an exported upscale.onnx).",
        DefaultValueFactory = _ => 1.0,
        HelpName = "G",
    };

    /// <summary>Validates a --gaussian-scale value.</summary>
    public static double GaussianScale(double value) => value >= 0 && !double.IsInfinity(value)
        ? value
        : throw new CliException($"--gaussian-scale must be a finite number ≥ 0, got {value.ToString(CultureInfo.InvariantCulture)}", UsageError);

    /// <summary>Sets libtorch's thread count, validating it.</summary>
    public static void ApplyThreads(int threads)
    {
        if (threads < 1) throw new CliException($"--threads must be at least 1, got {threads}", UsageError);
        set_num_threads(threads);
    }

    // ---- files ------------------------------------------------------------------------------

    public static Imaging.Image ReadImage(string path) => At(path, () => ImageFile.Read(path));

    public static void WriteImage(Imaging.Image image, string path) => At(path, () => ImageFile.Write(image, path));

    public static RescaleNetwork LoadModel(string pathOrName, Device? device = null)
    {
        string path = ModelPath(pathOrName);
        return At(path, () => ModelFile.Load(path, device));
    }

    /// <summary>
    /// Loads a network: by its metadata when the file has a <c>model</c> entry (a model file), otherwise (plain
    /// weights, e.g. a PyTorch state dict exported by torch_reference.py) into <paramref name="fallback"/>'s network by parameter name.
    /// </summary>
    public static RescaleNetwork LoadModelOrWeights(string path, Func<RescaleNetwork> fallback) => At(path, () =>
    {
        var file = SafetensorsFile.Read(path);
        if (file.Metadata.ContainsKey("model")) return ModelFile.Load(file);
        var network = fallback();
        try
        {
            ModelFile.LoadWeights(network, file);
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    });

    // ---- error policy -----------------------------------------------------------------------

    /// <summary>Runs <paramref name="body"/>, turning an expected error into a <see cref="CliException"/> that names <paramref name="file"/>.</summary>
    public static T At<T>(string file, Func<T> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is not CliException && Describe(e, file) is { } message)
        {
            throw new CliException(message, e is NotSupportedException ? NotImplemented : Failure, e);
        }
    }

    /// <summary>As <see cref="At{T}(string, Func{T})"/> for actions.</summary>
    public static void At(string file, Action body) => At(file, () =>
    {
        body();
        return 0;
    });

    /// <summary>The one-line message of an expected error (naming <paramref name="file"/> when given), or null for a bug.</summary>
    public static string? Describe(Exception e, string? file = null)
    {
        string Named(string problem)
        {
            problem = OneLine(problem);
            if (file is null || problem.Contains(file, StringComparison.Ordinal)) return problem;
            var full = Path.GetFullPath(file);
            if (problem.Contains(full, StringComparison.Ordinal)) problem = problem.Replace(full, file, StringComparison.Ordinal);
            return problem.StartsWith(file, StringComparison.Ordinal) ? problem : $"{file}: {problem}";
        }
        return e switch
        {
            CliException => e.Message,
            FileNotFoundException f => Named(file is null && f.FileName is { } fn ? $"{fn}: no such file" : "no such file"),
            DirectoryNotFoundException => Named("no such directory"),
            InvalidDataException { InnerException: FileNotFoundException } => Named("no such file"),
            InvalidDataException { InnerException: DirectoryNotFoundException } => Named("no such directory"),
            UnauthorizedAccessException => Named("permission denied"),
            ImageFormatException or InvalidDataException or System.Runtime.InteropServices.ExternalException or IOException or KeyNotFoundException
                or NotSupportedException or FormatException => Named(e.Message),
            ArgumentException a => Named(a.ParamName is { } p ? a.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : a.Message),
            DllNotFoundException or EntryPointNotFoundException =>
                "cannot load libtorch through TorchSharp: " + OneLine(e.Message) +
                " — build with `dotnet build` in this repository (see the README, Engine)",
            _ => null,
        };
    }

    /// <summary>The first non-empty line of a message (libtorch appends C++ backtraces).</summary>
    public static string OneLine(string message)
    {
        foreach (var line in message.Split('\n'))
            if (line.Trim().Length > 0) return line.Trim();
        return message.Trim();
    }

    // ---- formatting -------------------------------------------------------------------------

    public static string Size(Imaging.Image image) => $"{image.Width}×{image.Height}";

    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture) + " s";

    /// <summary>An error value the way the verify summary prints it: <c>3.1e-06</c>.</summary>
    public static string Sci(double v) =>
        v == 0 ? "0" : double.IsNaN(v) ? "nan" : double.IsInfinity(v) ? (v > 0 ? "inf" : "-inf") : v.ToString("0.0##e-00", CultureInfo.InvariantCulture);
}

/// <summary>Installs command actions under the common error policy.</summary>
internal static class CommandExtensions
{
    /// <summary>
    /// Sets the action of <paramref name="command"/>: <paramref name="body"/> gets the parse result and a
    /// <see cref="CliContext"/> and returns the exit code; expected exceptions become one stderr line and exit 1
    /// (2 for features not implemented yet), other exceptions propagate as bugs.
    /// </summary>
    public static void SetCliAction(this Command command, Func<ParseResult, CliContext, int> body) =>
        command.SetAction(result =>
        {
            var cli = new CliContext(result.InvocationConfiguration.Output, result.InvocationConfiguration.Error);
            try
            {
                cli.Device = CliContext.ParseDevice(result.GetValue(CliContext.DeviceOption) ?? "cpu");
                return body(result, cli);
            }
            catch (Exception e) when (CliContext.Describe(e) is { } message)
            {
                cli.Fail(message);
                return e switch
                {
                    CliException c => c.ExitCode,
                    NotSupportedException => CliContext.NotImplemented,
                    _ => CliContext.Failure,
                };
            }
        });
}
