namespace MLNet.Rescale.Hosting;

/// <summary>A rescaling model file could not be loaded. The message starts with the file's full path.</summary>
public sealed class ModelLoadException : Exception
{
    /// <summary>Creates the exception with a message of the form "<paramref name="modelPath"/>: cannot load the rescaling model: <paramref name="problem"/>".</summary>
    public ModelLoadException(string modelPath, string problem, Exception? inner = null)
        : base($"{modelPath}: cannot load the rescaling model: {problem}", inner)
    {
        ModelPath = modelPath;
        Problem = problem;
    }

    /// <summary>The model file's full path.</summary>
    public string ModelPath { get; }

    /// <summary>What is wrong, without the path.</summary>
    public string Problem { get; }
}
