using System.CommandLine;
using MLNet.Rescale.Cli.Commands;

namespace MLNet.Rescale.Cli;

/// <summary>Entry point of the <c>rescale</c> tool.</summary>
public static class Program
{
    /// <summary>
    /// The subcommands, in the order help lists them. Adding a command is one line here: write
    /// <c>Commands/XCommand.cs</c> with a <c>static Command Create()</c> (use <see cref="CommandExtensions.SetCliAction"/>
    /// for uniform error handling) and append <c>XCommand.Create</c>.
    /// </summary>
    internal static readonly Func<Command>[] CommandFactories =
    [
        DownscaleCommand.Create,
        BatchCommand.Create,
        UpscaleCommand.Create,
        RoundtripCommand.Create,
        VerifyCommand.Create,
        BenchCommand.Create,
        TrainCommand.Create,
        EvalCommand.Create,
        PipelineCommand.Create,
        ConvertCommand.Create,
        ExportCommand.Create,
    ];

    /// <summary>Runs the tool on the process's console.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <returns>The exit code: 0 success, 1 bad input or failure, 2 usage error or not implemented.</returns>
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the tool in-process with the given output writers (used by tests).</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="stdout">Where results go.</param>
    /// <param name="stderr">Where errors go (one line per error).</param>
    /// <returns>The exit code: 0 success, 1 bad input or failure, 2 usage error or not implemented.</returns>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = BuildRootCommand();
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            // Usage errors: one line each and a pointer to help, instead of the whole help text.
            foreach (var e in result.Errors) stderr.WriteLine("rescale: " + CliContext.OneLine(e.Message));
            var name = result.CommandResult.Command is RootCommand ? "" : result.CommandResult.Command.Name + " ";
            stderr.WriteLine($"Try 'rescale {name}--help'.");
            return CliContext.UsageError;
        }
        return result.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }

    /// <summary>The root command with every registered subcommand.</summary>
    public static RootCommand BuildRootCommand()
    {
        var root = new RootCommand("Learned image rescaling with invertible networks (IRN, SAIN) on TorchSharp.");
        root.Options.Add(CliContext.DeviceOption);
        foreach (var factory in CommandFactories) root.Add(factory());
        return root;
    }
}
