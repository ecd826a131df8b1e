using System.Reflection;
using Microsoft.ML;
using Mono.Cecil;
using MLNet.Rescale.ML.Internals;

namespace MLNet.Rescale.ML.Tests;

/// <summary>
/// We compile against a publicized Microsoft.ML.Core (and Microsoft.ML.Data) to save our transformers in ML.NET's model
/// zips and to read the host settings of an MLContext (seed, GPU settings, cancellation). These tests keep
/// that honest: the compiled assembly may reference exactly the internal types and members listed here (all used from
/// Internals/ModelParts.cs), and every transformer of ours is registered so that <c>Model.Load</c> finds its loader.
/// An ML.NET upgrade that renames or removes one of them fails here, not in a user's process.
/// </summary>
public sealed class InternalsAuditTests
{
    /// <summary>The ML.NET internals we use, as "Type" or "Type::Member".</summary>
    public static readonly string[] Allowed =
    [
        "Microsoft.ML.Data.IInternalCatalog",
        "Microsoft.ML.Data.IInternalCatalog::get_Environment",
        "Microsoft.ML.LoadableClassAttribute",
        "Microsoft.ML.LoadableClassAttribute::.ctor",
        "Microsoft.ML.ModelHeader",
        "Microsoft.ML.ModelHeader::ModelVerWritten",
        "Microsoft.ML.ModelLoadContext",
        "Microsoft.ML.ModelLoadContext::CheckAtModel",
        "Microsoft.ML.ModelLoadContext::Directory",
        "Microsoft.ML.ModelLoadContext::Header",
        "Microsoft.ML.ModelLoadContext::LoadNonEmptyString",
        "Microsoft.ML.ModelLoadContext::Reader",
        "Microsoft.ML.ModelLoadContext::TryLoadBinaryStream",
        "Microsoft.ML.ModelSaveContext::CheckAtModel",
        "Microsoft.ML.ModelSaveContext::Repository",
        "Microsoft.ML.ModelSaveContext::SaveBinaryStream",
        "Microsoft.ML.ModelSaveContext::SaveNonEmptyString",
        "Microsoft.ML.ModelSaveContext::SetVersionInfo",
        "Microsoft.ML.ModelSaveContext::Writer",
        "Microsoft.ML.RepositoryWriter",
        "Microsoft.ML.Runtime.ICancelable",
        "Microsoft.ML.Runtime.ICancelable::get_IsCanceled",
        "Microsoft.ML.Runtime.IHostEnvironmentInternal",
        "Microsoft.ML.Runtime.IHostEnvironmentInternal::get_FallbackToCpu",
        "Microsoft.ML.Runtime.IHostEnvironmentInternal::get_GpuDeviceId",
        "Microsoft.ML.Runtime.IHostEnvironmentInternal::get_Seed",
        "Microsoft.ML.SchemaShape::Create",
        "Microsoft.ML.SchemaShape/Column::.ctor",
        "Microsoft.ML.SignatureLoadModel",
        "Microsoft.ML.VersionInfo",
        "Microsoft.ML.VersionInfo::.ctor",
    ];

    private static string OurAssembly => typeof(ModelParts).Assembly.Location;

    /// <summary>Every internal type or member of an ML.NET assembly that our compiled assembly references.</summary>
    private static SortedSet<string> InternalsReferenced()
    {
        var resolver = new DefaultAssemblyResolver();
        resolver.AddSearchDirectory(AppContext.BaseDirectory);
        using var assembly = AssemblyDefinition.ReadAssembly(OurAssembly, new ReaderParameters { AssemblyResolver = resolver });
        var found = new SortedSet<string>(StringComparer.Ordinal);
        static bool FromMLNet(TypeReference t) => t.Scope.Name.StartsWith("Microsoft.ML", StringComparison.Ordinal);
        static bool Visible(TypeDefinition t) => t.IsNested ? (t.IsNestedPublic || t.IsNestedFamily || t.IsNestedFamilyOrAssembly) && Visible(t.DeclaringType) : t.IsPublic;

        foreach (var reference in assembly.MainModule.GetTypeReferences().Where(FromMLNet))
        {
            var definition = reference.Resolve() ?? throw new InvalidOperationException($"cannot resolve {reference.FullName}");
            if (!Visible(definition)) found.Add(definition.FullName);
        }
        foreach (var reference in assembly.MainModule.GetMemberReferences())
        {
            var declaring = reference.DeclaringType.GetElementType();
            if (!FromMLNet(declaring)) continue;
            bool isPublic = reference switch
            {
                MethodReference m => m.Resolve() is { } d ? d.IsPublic || d.IsFamily || d.IsFamilyOrAssembly : throw new InvalidOperationException($"cannot resolve {m.FullName}"),
                FieldReference f => f.Resolve() is { } d ? d.IsPublic || d.IsFamily || d.IsFamilyOrAssembly : throw new InvalidOperationException($"cannot resolve {f.FullName}"),
                _ => true,
            };
            var type = declaring.Resolve();
            if (!isPublic || !Visible(type)) found.Add($"{type.FullName}::{reference.Name}");
        }
        return found;
    }

    [Fact]
    public void The_assembly_uses_exactly_the_listed_ML_NET_internals()
    {
        var found = InternalsReferenced();
        var unexpected = found.Except(Allowed).ToList();
        var unused = Allowed.Except(found).ToList();
        Assert.True(unexpected.Count == 0, $"internals of ML.NET used but not listed (add them to ModelParts and to Allowed, or use public API): {string.Join(", ", unexpected)}");
        Assert.True(unused.Count == 0, $"listed but no longer used (remove from Allowed): {string.Join(", ", unused)}");
    }

    [Fact]
    public void The_audit_sees_an_internal_member_when_one_is_used()
    {
        // The check cannot pass vacuously: the members ModelParts really calls are among those it finds.
        var found = InternalsReferenced();
        Assert.Contains("Microsoft.ML.ModelSaveContext::SaveBinaryStream", found);
        Assert.Contains("Microsoft.ML.VersionInfo", found);
        Assert.DoesNotContain(found, f => f.StartsWith("Microsoft.ML.MLContext", StringComparison.Ordinal));   // public API is not counted
    }

    [Fact]
    public void Every_transformer_is_registered_for_Model_Load_with_its_loader()
    {
        var assembly = typeof(ModelParts).Assembly;
        var registrations = assembly.GetCustomAttributesData().Where(a => a.AttributeType.Name == "LoadableClassAttribute").ToList();
        var transformers = assembly.GetExportedTypes().Where(t => !t.IsAbstract && typeof(ITransformer).IsAssignableFrom(t)).ToList();
        Assert.Equal(8, transformers.Count);
        foreach (var type in transformers)
        {
            var registration = registrations.SingleOrDefault(a => a.ConstructorArguments.Any(c => Equals(c.Value, type)));
            Assert.True(registration is not null, $"{type.Name} has no [assembly: LoadableClass] registration: Model.Load would fail with 'Couldn't load model'");
            // The loader names are the attribute's params string[]: flatten it.
            var args = registration!.ConstructorArguments.SelectMany(c => c.Value is IEnumerable<CustomAttributeTypedArgument> items
                ? items.Select(i => i.Value) : [c.Value]).ToList();
            Assert.Contains(args, a => a is Type t && t.Name == "SignatureLoadModel");
            string loaderSignature = (string)type.GetField("LoaderSignature", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!;
            Assert.Contains(loaderSignature, args.OfType<string>());
            Assert.True(loaderSignature.Length <= 24, $"{type.Name}: loader signature '{loaderSignature}' is longer than ML.NET's 24 characters");
            var create = type.GetMethod("Create", BindingFlags.NonPublic | BindingFlags.Static);
            Assert.True(create is not null && create.GetParameters().Select(p => p.ParameterType.Name).SequenceEqual(["IHostEnvironment", "ModelLoadContext"]),
                $"{type.Name} has no static Create(IHostEnvironment, ModelLoadContext)");
        }
    }
}
