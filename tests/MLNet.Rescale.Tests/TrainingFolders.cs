using MLNet.Rescale.Tests.Shared;

namespace MLNet.Rescale.Tests;

/// <summary>A temporary training folder (butterfly) and validation folder (bird), deleted on dispose.</summary>
public sealed class TrainingFolders : IDisposable
{
    /// <summary>Creates both folders under a fresh temporary root named after <paramref name="prefix"/>.</summary>
    public TrainingFolders(string prefix)
    {
        Root = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Data = Directory.CreateDirectory(Path.Combine(Root, "data")).FullName;
        Val = Directory.CreateDirectory(Path.Combine(Root, "val")).FullName;
        File.Copy(TestPaths.Image("butterfly.png"), Path.Combine(Data, "butterfly.png"));
        File.Copy(TestPaths.Image("bird.png"), Path.Combine(Val, "bird.png"));
    }

    /// <summary>The temporary root (run folders go below it).</summary>
    public string Root { get; }
    /// <summary>The training images.</summary>
    public string Data { get; }
    /// <summary>The validation images.</summary>
    public string Val { get; }

    /// <inheritdoc/>
    public void Dispose() => Directory.Delete(Root, recursive: true);
}
