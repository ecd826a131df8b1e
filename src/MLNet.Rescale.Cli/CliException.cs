namespace MLNet.Rescale.Cli;

/// <summary>An expected failure: its message (one line, naming the file) is printed and the tool exits with <see cref="ExitCode"/>.</summary>
public sealed class CliException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">One line for the user, naming the file and the problem.</param>
    /// <param name="exitCode">Exit code of the process (1 bad input or failure, 2 usage or not implemented).</param>
    /// <param name="inner">The underlying error.</param>
    public CliException(string message, int exitCode = CliContext.Failure, Exception? inner = null) : base(message, inner) => ExitCode = exitCode;

    /// <summary>Exit code of the process.</summary>
    public int ExitCode { get; }
}
