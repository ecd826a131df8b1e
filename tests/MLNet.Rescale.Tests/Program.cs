using System.Diagnostics;
using MLNet.Rescale.Engine;
using MLNet.Rescale.Networks;

namespace MLNet.Rescale.Tests;

/// <summary>
/// The test assembly's entry point (the test host does not use it). <see cref="ChildProcess.Run"/> starts this assembly
/// again with arguments, for checks that need a libtorch no test has touched yet: oneDNN reads its settings from the
/// environment once per process.
/// </summary>
public static class Program
{
    public static int Main(string[] args) => args switch
    {
        ["convolution-check"] => ConvolutionCheckChild(),
        _ => 0,
    };

    /// <summary>
    /// Requires the first convolution of a ×2 dense block channels-last, then builds a ×2 IRN; prints each refusal's
    /// message on a line "refused: …", or "accepted: …".
    /// </summary>
    private static int ConvolutionCheckChild()
    {
        var shape = new ConvolutionShape(9, 32, 3, Padding: 1);
        try
        {
            ConvolutionCheck.Require(shape, ConvolutionLayout.ChannelsLast);
            var (worst, where) = ConvolutionCheck.Measure(shape, ConvolutionLayout.ChannelsLast);
            Console.WriteLine(FormattableString.Invariant($"accepted: Require: worst {worst:G3} ({where})"));
        }
        catch (InvalidOperationException e) { Console.WriteLine("refused: " + e.Message); }
        try
        {
            using var net = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [1] });
            Console.WriteLine("accepted: InvRescaleNet");
        }
        catch (InvalidOperationException e) { Console.WriteLine("refused: " + e.Message); }
        return 0;
    }
}

/// <summary>Runs this test assembly as a child process.</summary>
internal static class ChildProcess
{
    /// <summary>Runs <c>dotnet MLNet.Rescale.Tests.dll <paramref name="arguments"/></c> with environment changes (null removes); returns exit code and output.</summary>
    public static (int ExitCode, string Output) Run(string[] arguments, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = System.Text.Encoding.UTF8,
            StandardErrorEncoding = System.Text.Encoding.UTF8,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        foreach (var (key, value) in environment)
        {
            if (value is null) start.Environment.Remove(key);
            else start.Environment[key] = value;
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + start.FileName);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the child process did not finish within {timeout}");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>The dotnet host running this process (the test host runs under it), else the SDK's, else dotnet on the PATH.</summary>
    private static string DotnetHost()
    {
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }
}
