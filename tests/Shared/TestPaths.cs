namespace MLNet.Rescale.Tests.Shared;

/// <summary>Locates the repository's fixtures and the optional ../shared benchmark sets.</summary>
public static class TestPaths
{
    /// <summary>The repository root (the folder holding MLNet.Rescale.sln).</summary>
    public static string RepoRoot { get; } = FindRoot();

    /// <summary>tests/fixtures.</summary>
    public static string Fixtures => Path.Combine(RepoRoot, "tests", "fixtures");

    /// <summary>A conformance vector carried in the repository.</summary>
    public static string Conformance(string file) => Path.Combine(Fixtures, "conformance", file);

    /// <summary>A sample image carried in the repository.</summary>
    public static string Image(string file) => Path.Combine(Fixtures, "images", file);

    /// <summary>../shared/datasets/NAME beside the checkout (absent on a user's clone).</summary>
    public static string SharedDataset(string name) => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "datasets", name));

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "MLNet.Rescale.sln"))) return d.FullName;
        throw new InvalidOperationException("cannot find the repository root (MLNet.Rescale.sln) above " + AppContext.BaseDirectory);
    }
}

/// <summary>A fact that is skipped, saying why, when a benchmark folder outside the repository is absent.</summary>
public sealed class FactNeedsDatasetAttribute : Xunit.FactAttribute
{
    /// <summary>Skips unless ../shared/datasets/<paramref name="dataset"/> exists.</summary>
    public FactNeedsDatasetAttribute(string dataset)
    {
        if (!Directory.Exists(TestPaths.SharedDataset(dataset)))
            Skip = $"needs ../shared/datasets/{dataset} (a benchmark set not carried in the repository)";
    }
}
