using MLNet.Rescale.Engine;
using MLNet.Rescale.Tests.Shared;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>
/// The engine never makes TorchSharp create a temporary Scalar (see <see cref="TemporaryScalarAudit"/>): found in
/// the compiled IL, so a new <c>a + b</c> on two tensors fails here instead of, once in thousands of calls, in a
/// user's process.
/// </summary>
public class TemporaryScalarTests
{
    [Fact]
    public void The_engine_makes_no_temporary_scalar()
    {
        var hazards = TemporaryScalarAudit.Find(typeof(Scalars).Assembly.Location);
        Assert.True(hazards.Count == 0, "calls that create a temporary TorchSharp Scalar:\n" + string.Join("\n", hazards));
    }

    [Fact]
    public void The_audit_finds_each_kind_of_hazard_and_passes_the_safe_forms()
    {
        var hazards = TemporaryScalarAudit.Find(typeof(TemporaryScalarTests).Assembly.Location)
            .Where(h => h.StartsWith(typeof(Canary).FullName!.Replace('+', '/') + "::", StringComparison.Ordinal)).ToList();
        string[] expected = [nameof(Canary.SumOperator), nameof(Canary.NumberOperand), nameof(Canary.AddWithDefaultAlpha), nameof(Canary.LiteralArgument)];
        foreach (var name in expected)
            Assert.Contains(hazards, h => h.Contains($"::{name} → ", StringComparison.Ordinal));
        Assert.DoesNotContain(hazards, h => h.Contains($"::{nameof(Canary.Safe)} → ", StringComparison.Ordinal));
        Assert.Equal(expected.Length, hazards.Count);
        // The chain names the conversion inside TorchSharp, so a reader sees why the call is refused.
        Assert.Contains(hazards, h => h.Contains("op_Addition(Tensor,Tensor)") && h.Contains("op_Implicit(Int32)"));
    }

    /// <summary>Methods the audit reads (never run): four hazards, and the forms the engine uses instead.</summary>
    private static class Canary
    {
        public static Tensor SumOperator(Tensor a, Tensor b) => a + b;
        public static Tensor NumberOperand(Tensor a) => a * 2.0;
        public static Tensor AddWithDefaultAlpha(Tensor a, Tensor b) => a.add(b);
        public static Tensor LiteralArgument(Tensor a) => a.clamp(0.0, 1.0);
        public static Tensor Safe(Tensor a, Tensor b) => a.add(b, Scalars.S(1)).mul(Scalars.S(2)).sub(b).clamp(Scalars.S(0), Scalars.S(1));
    }
}
