// Compiled by MSBuild's RoslynCodeTaskFactory (see Publicize.targets); not part of any project.
using System;
using System.IO;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using Mono.Cecil;

/// <summary>Writes a copy of an assembly in which every type, method and field is public, for compiling against only.</summary>
public sealed class PublicizeAssembly : Task
{
    [Required] public string Source { get; set; } = "";
    [Required] public string Destination { get; set; } = "";

    public override bool Execute()
    {
        // Idempotent and incremental: a copy newer than its source is kept as it is.
        if (File.Exists(Destination) && File.GetLastWriteTimeUtc(Destination) >= File.GetLastWriteTimeUtc(Source)) return true;
        Directory.CreateDirectory(Path.GetDirectoryName(Destination)!);
        var resolver = new DefaultAssemblyResolver();
        resolver.AddSearchDirectory(Path.GetDirectoryName(Source));
        using (var assembly = AssemblyDefinition.ReadAssembly(Source, new ReaderParameters { AssemblyResolver = resolver }))
        {
            foreach (var type in assembly.MainModule.GetTypes())
            {
                if (type.IsNested) type.IsNestedPublic = true;
                else type.IsPublic = true;
                // Protected members stay protected: a subclass of ours overriding one would otherwise have to change its access.
                foreach (var method in type.Methods)
                    if (!method.IsPublic && !method.IsFamily && !method.IsFamilyOrAssembly) method.IsPublic = true;
                foreach (var field in type.Fields)
                {
                    // An event's backing field shares the event's name; making it public would make uses ambiguous.
                    bool isEventField = false;
                    foreach (var e in type.Events) if (e.Name == field.Name) isEventField = true;
                    if (!field.IsPublic && !field.IsFamily && !field.IsFamilyOrAssembly && !isEventField) field.IsPublic = true;
                }
            }
            // The identity (name, version, public key) is kept, so what we compile binds to the real signed assembly at run time.
            string temp = Destination + ".tmp";
            assembly.Write(temp);
            // The task compiles against netstandard: no File.Move(…, overwrite); Replace is atomic where the target exists.
            if (File.Exists(Destination)) File.Replace(temp, Destination, null);
            else File.Move(temp, Destination);
        }
        Log.LogMessage(MessageImportance.Low, $"Publicized {Source} -> {Destination}");
        return true;
    }
}
