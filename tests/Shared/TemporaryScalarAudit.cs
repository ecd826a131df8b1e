using Mono.Cecil;
using Mono.Cecil.Cil;

namespace MLNet.Rescale.Tests.Shared;

/// <summary>
/// Finds, in a compiled assembly of ours, every call that makes TorchSharp create a temporary <c>Scalar</c> — directly
/// (a number converted to a Scalar at the call site) or inside TorchSharp (<c>a + b</c> on two tensors is
/// <c>add(b, 1)</c>, whose alpha is such a temporary). A temporary Scalar holds a raw native pointer that its finalizer
/// frees, and nothing keeps it alive while libtorch reads it, so a garbage collection on another thread can free it
/// mid-call ("Scalar.h … toFloat", "Unknown scalar type"; seen in the soak test). Engine code passes its numbers
/// through <c>MLNet.Rescale.Engine.Scalars</c> (process-lifetime Scalars) and uses the overloads that take them.
/// </summary>
/// <remarks>
/// The analysis reads IL with Mono.Cecil. A TorchSharp method is hazardous when its body converts a number to a Scalar
/// (an implicit conversion or <c>ToScalar</c>) and never calls <c>Dispose</c> (TorchSharp's own <c>using</c>d
/// Scalars are safe), or when it calls a hazardous TorchSharp method (for a virtual method: or any TorchSharp
/// override of it); calls are followed through TorchSharp only.
/// </remarks>
public static class TemporaryScalarAudit
{
    /// <summary>The one type of ours allowed to create Scalars (it caches them for the life of the process).</summary>
    public const string ScalarCache = "MLNet.Rescale.Engine.Scalars";

    /// <summary>
    /// Every hazardous call in the assembly at <paramref name="assemblyPath"/>, as
    /// "OurType::method → TorchSharp member (chain)"; TorchSharp.dll is read from the same folder.
    /// </summary>
    public static IReadOnlyList<string> Find(string assemblyPath)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(assemblyPath))!;
        var resolver = new DefaultAssemblyResolver();
        resolver.AddSearchDirectory(folder);
        var parameters = new ReaderParameters { AssemblyResolver = resolver };
        using var ours = AssemblyDefinition.ReadAssembly(assemblyPath, parameters);
        var torch = new TorchSharpScalars(CreatedTorchSharpTypes(ours));
        var found = new List<string>();
        foreach (var type in AllTypes(ours.MainModule.Types))
        {
            if (type.FullName == ScalarCache || type.FullName.StartsWith(ScalarCache + "/", StringComparison.Ordinal)) continue;
            foreach (var method in type.Methods.Where(m => m.HasBody))
            foreach (var callee in Callees(method))
            {
                if (!FromTorchSharp(callee)) continue;
                var chain = torch.Hazard(callee);
                if (chain is not null)
                    found.Add($"{type.FullName}::{method.Name} → {Describe(callee)}{(chain.Length == 0 ? "" : " → " + chain)}");
            }
        }
        return found.Distinct().Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The TorchSharp types whose objects our code can hold: those it constructs, and those TorchSharp methods it calls
    /// return (any subclass of a returned type counts). A type we only derive from or cast to is not among them.
    /// </summary>
    private static IEnumerable<string> CreatedTorchSharpTypes(AssemblyDefinition ours) =>
        AllTypes(ours.MainModule.Types).SelectMany(t => t.Methods).Where(m => m.HasBody)
            .SelectMany(m => m.Body.Instructions)
            .Where(i => i.OpCode.Code is Code.Newobj or Code.Call or Code.Callvirt && i.Operand is MethodReference m && FromTorchSharp(m))
            // A base constructor call (`call`, from a subclass of ours) creates no TorchSharp object; `newobj` does.
            .Select(i => (MethodReference)i.Operand is var m && m.Name == ".ctor" ? (i.OpCode.Code == Code.Newobj ? m.DeclaringType : null) : m.ReturnType)
            .OfType<TypeReference>()
            .Where(t => t.Scope.Name is "TorchSharp" or "TorchSharp.dll")
            .Select(t => t.GetElementType().FullName)
            .Distinct();

    private static IEnumerable<TypeDefinition> AllTypes(IEnumerable<TypeDefinition> types) =>
        types.SelectMany(t => AllTypes(t.NestedTypes).Prepend(t));

    private static IEnumerable<MethodReference> Callees(MethodDefinition method) =>
        method.Body.Instructions
            .Where(i => i.OpCode.Code is Code.Call or Code.Callvirt or Code.Newobj or Code.Ldftn or Code.Ldvirtftn)
            .Select(i => i.Operand).OfType<MethodReference>();

    private static bool FromTorchSharp(MethodReference m) => m.DeclaringType.Scope.Name is "TorchSharp" or "TorchSharp.dll";

    private static bool MakesScalar(MethodReference m) =>
        m.ReturnType.FullName == "TorchSharp.Scalar" &&
        (m.Name == "op_Implicit" || m.Name == "ToScalar");

    private static string Describe(MethodReference m) =>
        $"{m.DeclaringType.Name}::{m.Name}({string.Join(",", m.Parameters.Select(p => p.ParameterType.Name))})";

    /// <summary>Which TorchSharp methods make a temporary Scalar, memoized.</summary>
    private sealed class TorchSharpScalars
    {
        private readonly Dictionary<string, string?> memo = new(StringComparer.Ordinal);
        private readonly HashSet<string> createdTypes;
        private Dictionary<string, List<MethodDefinition>>? overrides;

        /// <param name="createdTypes">The TorchSharp types whose objects our assembly can hold (or their subclasses).</param>
        public TorchSharpScalars(IEnumerable<string> createdTypes) => this.createdTypes = new(createdTypes, StringComparer.Ordinal);

        /// <summary>Null when safe; otherwise the chain of calls that reaches the conversion ("" when it is the call itself).</summary>
        public string? Hazard(MethodReference reference)
        {
            if (MakesScalar(reference)) return "";
            var key = reference.FullName;
            if (memo.TryGetValue(key, out var known)) return known;
            memo[key] = null; // a cycle counts as safe while it is being decided
            var definition = reference.Resolve();
            string? result = definition is null ? null : BodyHazard(definition);
            // A virtual call may land in an override (C# binds to the first declaration, so the IL does not say which):
            // the call is hazardous when the override in a TorchSharp type our assembly may hold is.
            if (result is null && definition is { IsVirtual: true })
                foreach (var o in Overrides(definition))
                    if (Hazard(o) is { } inner)
                    {
                        result = $"{o.DeclaringType.Name}::{o.Name} (override)" + (inner.Length == 0 ? "" : " → " + inner);
                        break;
                    }
            memo[key] = result;
            return result;
        }

        private string? BodyHazard(MethodDefinition definition)
        {
            if (!definition.HasBody) return null;
            var callees = Callees(definition).ToList();
            bool disposes = callees.Any(c => c.Name == "Dispose");
            foreach (var callee in callees)
            {
                if (MakesScalar(callee))
                {
                    if (disposes) continue;
                    return Describe(callee);
                }
                if (!FromTorchSharp(callee)) continue;
                if (Hazard(callee) is { } inner)
                    return inner.Length == 0 ? Describe(callee) : Describe(callee) + " → " + inner;
            }
            return null;
        }

        /// <summary>The methods of TorchSharp types we may hold that override <paramref name="method"/>, directly or further down.</summary>
        private IEnumerable<MethodDefinition> Overrides(MethodDefinition method)
        {
            if (overrides is null)
            {
                overrides = new(StringComparer.Ordinal);
                foreach (var type in method.Module.GetTypes())
                foreach (var m in type.Methods.Where(m => m.IsVirtual && !m.IsNewSlot && MayBeHeld(type)))
                    for (var baseType = type.BaseType?.Resolve(); baseType is not null; baseType = baseType.BaseType?.Resolve())
                    {
                        var overridden = baseType.Methods.FirstOrDefault(b => b.IsVirtual && b.Name == m.Name && SameParameters(b, m));
                        if (overridden is null) continue;
                        if (!overrides.TryGetValue(overridden.FullName, out var list)) overrides[overridden.FullName] = list = [];
                        list.Add(m);
                    }
            }
            return overrides.TryGetValue(method.FullName, out var found) ? found : [];
        }

        private bool MayBeHeld(TypeDefinition type)
        {
            for (TypeDefinition? t = type; t is not null; t = t.BaseType?.Resolve())
                if (createdTypes.Contains(t.FullName)) return true;
            return false;
        }

        private static bool SameParameters(MethodDefinition a, MethodDefinition b) =>
            a.Parameters.Count == b.Parameters.Count &&
            a.Parameters.Zip(b.Parameters).All(p => p.First.ParameterType.IsGenericParameter || p.First.ParameterType.Name == p.Second.ParameterType.Name);
    }
}
