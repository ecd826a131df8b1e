using MLNet.Rescale.Cli;

// The commands set process-wide libtorch state (thread count), and the machine has few cores: run serially.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace MLNet.Rescale.Cli.Tests;

/// <summary>The outcome of one in-process run of the tool.</summary>
public sealed record CliRun(int ExitCode, string Out, string Err)
{
    /// <summary>Non-empty stderr lines.</summary>
    public string[] ErrLines => Err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Err}";
}

public static class Cli
{
    /// <summary>Runs <c>rescale ARGS</c> in-process through <see cref="Program.Run"/>.</summary>
    public static CliRun Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The built tool beside the tests, for runs in a child process (<c>dotnet rescale.dll ARGS</c>).</summary>
    public static string RescaleDll => System.IO.Path.Combine(AppContext.BaseDirectory, "rescale.dll");

    /// <summary>The dotnet host running the tests.</summary>
    public static string DotnetHost =>
        Environment.ProcessPath is { } p && System.IO.Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
}

/// <summary>A temporary folder deleted with the test.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rescale-cli-tests-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
