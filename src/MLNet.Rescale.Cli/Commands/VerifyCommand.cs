using System.CommandLine;
using System.Globalization;
using MLNet.Rescale.Conformance;

namespace MLNet.Rescale.Cli.Commands;

/// <summary>
/// <c>rescale verify FILE...</c>: runs conformance vectors and prints each output's error against its tolerance,
/// then <c>max_abs_error=&lt;worst&gt;</c>. Exit 0 when every output passes, 1 on a failure or an unreadable file,
/// 2 when a vector's case is not implemented yet (and nothing failed).
/// </summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("FILE") { Description = "Conformance vectors (.safetensors, or metrics .json).", Arity = ArgumentArity.OneOrMore };
        var command = new Command("verify", "Check this implementation against reference conformance vectors.") { files };
        command.SetCliAction((r, cli) =>
        {
            double worst = double.NaN;
            bool sawNaN = false;
            int failed = 0, unreadable = 0, notImplemented = 0, passed = 0;
            foreach (var path in r.GetValue(files)!)
            {
                IReadOnlyList<ConformanceResult> results;
                try
                {
                    results = CliContext.At(path, () => ConformanceRunner.Run(path));
                }
                catch (CliException e) when (e.InnerException is NotSupportedException)
                {
                    var detail = CliContext.OneLine(e.InnerException.Message).Replace(path + ": ", "", StringComparison.Ordinal)
                        .Replace(" is not implemented yet", "", StringComparison.Ordinal);
                    cli.Out.WriteLine($"{path}: not implemented yet ({detail})");
                    notImplemented++;
                    continue;
                }
                catch (CliException e)
                {
                    cli.Fail(e.Message);
                    unreadable++;
                    continue;
                }
                cli.Out.WriteLine(path);
                int width = results.Max(x => x.Output.Length);
                foreach (var x in results)
                {
                    cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {x.Output.PadRight(width)}  max_abs_error {CliContext.Sci(x.MaxAbsError),-10}  tolerance {CliContext.Sci(x.Tolerance),-10}  {(x.Passed ? "PASS" : "FAIL")}"));
                    if (x.Passed) passed++;
                    else failed++;
                    // NaN (a broken computation) fails and is the worst possible error.
                    if (double.IsNaN(x.MaxAbsError)) sawNaN = true;
                    else if (double.IsNaN(worst) || x.MaxAbsError > worst) worst = x.MaxAbsError;
                }
            }
            cli.Out.WriteLine($"{passed} passed, {failed} failed, {unreadable} unreadable, {notImplemented} not implemented");
            cli.Out.WriteLine("max_abs_error=" + CliContext.Sci(sawNaN ? double.NaN : worst));
            return failed + unreadable > 0 ? CliContext.Failure : notImplemented > 0 ? CliContext.NotImplemented : CliContext.Success;
        });
        return command;
    }
}
