namespace MLNet.Rescale.ML.Tests;

/// <summary>
/// The ML.NET components and the CLI make no temporary TorchSharp Scalar (<see cref="TemporaryScalarAudit"/>; the
/// engine's own audit and the audit's self-test are in MLNet.Rescale.Tests).
/// </summary>
public sealed class TemporaryScalarTests
{
    [Theory]
    [InlineData("MLNet.Rescale.ML.dll")]
    [InlineData("rescale.dll")]
    public void Makes_no_temporary_scalar(string assembly)
    {
        var path = Path.Combine(AppContext.BaseDirectory, assembly);
        Assert.True(File.Exists(path), $"{path} is not beside the tests");
        var hazards = TemporaryScalarAudit.Find(path);
        Assert.True(hazards.Count == 0, "calls that create a temporary TorchSharp Scalar:\n" + string.Join("\n", hazards));
    }
}
