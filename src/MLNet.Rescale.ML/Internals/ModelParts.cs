using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

// ML.NET keeps what a third-party component needs to live inside `mlContext.Model.Save` zips internal to
// Microsoft.ML.Core (dotnet/machinelearning #4911, #6839), and with it what an MLContext tells its components (seed,
// GPU settings, cancellation; the environment behind a catalog is internal to Microsoft.ML.Data). We compile against
// publicized copies of those assemblies (eng/Publicize.targets) and ask the runtime to let these calls through.
// THIS FILE IS THE ONLY PLACE that touches ML.NET internals; InternalsAuditTests fails when the compiled assembly references any internal member not listed in
// InternalsAuditTests.Allowed, so an ML.NET upgrade that moves one of them is caught by a test, not by a user.
[assembly: IgnoresAccessChecksTo("Microsoft.ML.Core")]
// The host environment behind a catalog (what ML.NET's own extensions reach with CatalogUtils.GetEnvironment).
[assembly: IgnoresAccessChecksTo("Microsoft.ML.Data")]

// How Model.Load finds our loaders: each saved part names its loader signature and this assembly; ML.NET loads the
// assembly by name and scans these attributes (InternalsAuditTests checks one is present for every transformer).
[assembly: LoadableClass(typeof(MLNet.Rescale.ML.Rescaling.InvertibleDownscalerTransformer), null, typeof(SignatureLoadModel),
    "Invertible downscaler", MLNet.Rescale.ML.Rescaling.InvertibleDownscalerTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(MLNet.Rescale.ML.Rescaling.CompressionAwareUpscalerTransformer), null, typeof(SignatureLoadModel),
    "Compression-aware upscaler", MLNet.Rescale.ML.Rescaling.CompressionAwareUpscalerTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(MLNet.Rescale.ML.Rescaling.CollaborativeLrOptimizerTransformer), null, typeof(SignatureLoadModel),
    "Collaborative LR optimizer", MLNet.Rescale.ML.Rescaling.CollaborativeLrOptimizerTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(MLNet.Rescale.ML.Transforms.ImageCompressingTransformer), null, typeof(SignatureLoadModel),
    "Compress images", MLNet.Rescale.ML.Transforms.ImageCompressingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(MLNet.Rescale.ML.Transforms.ImageModCropTransformer), null, typeof(SignatureLoadModel),
    "Modcrop images", MLNet.Rescale.ML.Transforms.ImageModCropTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(MLNet.Rescale.ML.Transforms.ImageCroppingTransformer), null, typeof(SignatureLoadModel),
    "Crop images", MLNet.Rescale.ML.Transforms.ImageCroppingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(MLNet.Rescale.ML.Transforms.ImageBicubicResizingTransformer), null, typeof(SignatureLoadModel),
    "Bicubic resize", MLNet.Rescale.ML.Transforms.ImageBicubicResizingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(MLNet.Rescale.ML.Transforms.ImageSavingTransformer), null, typeof(SignatureLoadModel),
    "Save images", MLNet.Rescale.ML.Transforms.ImageSavingTransformer.LoaderSignature)]

namespace System.Runtime.CompilerServices
{
    /// <summary>
    /// Tells the runtime that this assembly may call the non-public members of the named assembly (honoured by CoreCLR;
    /// the type is looked up by name, so each assembly declares its own).
    /// </summary>
    [AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
    internal sealed class IgnoresAccessChecksToAttribute(string assemblyName) : Attribute
    {
        /// <summary>The assembly whose internals are used.</summary>
        public string AssemblyName { get; } = assemblyName;
    }
}

namespace MLNet.Rescale.ML.Internals
{
    /// <summary>
    /// Our components' side of ML.NET's model format. Each saved part begins with a <see cref="VersionInfo"/> (an
    /// eight-character model signature, the version written and the oldest version that can read it, and the loader's
    /// signature and assembly, which is how <c>Model.Load</c> finds our loader in a new process without any
    /// registration call: the assembly is loaded by name and its <c>LoadableClass</c> attributes scanned).
    /// </summary>
    internal static class ModelParts
    {
        /// <summary>The version record of a part; every part of ours is read back only by the version that wrote it, or later.</summary>
        public static VersionInfo Version(string modelSignature, uint version, string loaderSignature, Type loaderType) =>
            new(modelSignature, verWrittenCur: version, verReadableCur: version, verWeCanReadBack: version,
                loaderSignature: loaderSignature, loaderAssemblyName: loaderType.Assembly.FullName);

        /// <summary>The version record of a part whose loader also reads the older versions from <paramref name="oldestReadable"/> on.</summary>
        public static VersionInfo Version(string modelSignature, uint version, uint oldestReadable, string loaderSignature, Type loaderType) =>
            new(modelSignature, verWrittenCur: version, verReadableCur: version, verWeCanReadBack: oldestReadable,
                loaderSignature: loaderSignature, loaderAssemblyName: loaderType.Assembly.FullName);

        /// <summary>The version of the part being read, as its writer recorded it.</summary>
        public static uint WrittenVersion(ModelLoadContext ctx) => ctx.Header.ModelVerWritten;

        /// <summary>Starts writing a part: checks the context is at a model's start and records the version.</summary>
        public static BinaryWriter BeginSave(ModelSaveContext ctx, VersionInfo version)
        {
            ArgumentNullException.ThrowIfNull(ctx);
            ctx.CheckAtModel();
            ctx.SetVersionInfo(version);
            return ctx.Writer;
        }

        /// <summary>Writes a non-empty string into the part's string table.</summary>
        public static void WriteString(ModelSaveContext ctx, string value) => ctx.SaveNonEmptyString(value);

        /// <summary>What identifies one save (one zip being written): ML.NET's repository writer, shared by all its parts.</summary>
        public static object Session(ModelSaveContext ctx) => ctx.Repository;

        /// <summary>A separate binary entry beside the part (the network weights, as a safetensors model file).</summary>
        public static void WriteEntry(ModelSaveContext ctx, string name, Action<BinaryWriter> write) => ctx.SaveBinaryStream(name, write);

        /// <summary>Starts reading a part: checks its signature and version (ML.NET's error names the part on a mismatch).</summary>
        public static BinaryReader BeginLoad(ModelLoadContext ctx, VersionInfo version)
        {
            ArgumentNullException.ThrowIfNull(ctx);
            ctx.CheckAtModel(version);
            return ctx.Reader;
        }

        /// <summary>Reads a string written by <see cref="WriteString"/>.</summary>
        public static string ReadString(ModelLoadContext ctx) => ctx.LoadNonEmptyString();

        /// <summary>Reads an entry written by <see cref="WriteEntry"/>; false when it is missing.</summary>
        public static bool TryReadEntry(ModelLoadContext ctx, string name, Action<BinaryReader> read) => ctx.TryLoadBinaryStream(name, read);

        /// <summary>Where the part sits in the model zip (for error messages).</summary>
        public static string PartName(ModelLoadContext ctx) => ctx.Directory ?? "(stream)";

        /// <summary>The shape of a scalar column (ML.NET makes the constructor internal).</summary>
        public static SchemaShape.Column ScalarColumn(string name, DataViewType type, SchemaShape? annotations) =>
            new(name, SchemaShape.Column.VectorKind.Scalar, type, isKey: false, annotations);

        /// <summary>The shape of a schema (what <see cref="IEstimator{T}.GetOutputSchema"/> takes).</summary>
        public static SchemaShape ShapeOf(DataViewSchema schema) => SchemaShape.Create(schema);
    }

    /// <summary>
    /// What an <see cref="MLContext"/> tells its components beyond the public <see cref="IHostEnvironment"/>: its seed,
    /// its GPU settings and whether <see cref="MLContext.CancelExecution"/> was called (ML.NET's own components read
    /// them through the same internal interfaces).
    /// </summary>
    internal static class HostSettings
    {
        /// <summary>The environment behind a catalog of <c>mlContext</c>.</summary>
        public static IHostEnvironment Environment(TransformsCatalog catalog) => ((IInternalCatalog)catalog).Environment;

        /// <summary>The seed the context was created with (null: none given).</summary>
        public static int? Seed(IHostEnvironment env) => (env as IHostEnvironmentInternal)?.Seed;

        /// <summary><see cref="MLContext.GpuDeviceId"/>.</summary>
        public static int? GpuDeviceId(IHostEnvironment env) => (env as IHostEnvironmentInternal)?.GpuDeviceId;

        /// <summary><see cref="MLContext.FallbackToCpu"/>.</summary>
        public static bool FallbackToCpu(IHostEnvironment env) => (env as IHostEnvironmentInternal)?.FallbackToCpu ?? true;

        /// <summary>Whether <see cref="MLContext.CancelExecution"/> was called on the context (or on the host's parent).</summary>
        public static bool IsCanceled(IHostEnvironment env) => env is ICancelable { IsCanceled: true };
    }
}
