using MLNet.Rescale.Hosting;
using MLNet.Rescale.Tests.Shared;
using Xunit;

namespace MLNet.Rescale.Hosting.Tests;

/// <summary>The hosting layer makes no temporary TorchSharp Scalar (<see cref="TemporaryScalarAudit"/>).</summary>
public sealed class TemporaryScalarTests
{
    [Fact]
    public void Makes_no_temporary_scalar()
    {
        var hazards = TemporaryScalarAudit.Find(typeof(IImageRescaler).Assembly.Location);
        Assert.True(hazards.Count == 0, "calls that create a temporary TorchSharp Scalar:\n" + string.Join("\n", hazards));
    }
}
