// Compiled by MSBuild's RoslynCodeTaskFactory for builds (see TorchSharpGlue.targets), and into MLNet.Rescale with
// MLNET_RESCALE_RUNTIME defined for processes that load TorchSharp from the NuGet cache (notebooks, scripts), where no
// build step ran: the same patch, in one place.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
#if !MLNET_RESCALE_RUNTIME
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
#endif

#if !MLNET_RESCALE_RUNTIME
/// <summary>
/// Makes TorchSharp's native glue (libLibTorchSharp.so) load where the system's libstdc++ is older than the one it was
/// linked against. TorchSharp 0.107 is built with GCC 13 and so asks libstdc++ for version GLIBCXX_3.4.32, which
/// Debian 12 and Ubuntu 22.04 (GCC 12, up to 3.4.30) do not define; the dynamic linker then refuses the whole library.
/// The only symbol of that version is <c>std::ios_base_library_init()</c>, which GCC 13's &lt;iostream&gt; names (with
/// <c>.globl</c>, never calls) to make sure a libstdc++ that constructs the standard streams itself is linked; GCC 12's
/// libstdc++ constructs them too. So the requirement is safe to drop when, as checked here, no relocation refers to any
/// symbol of a missing version: the requirement is marked weak (VER_FLG_WEAK: glibc no longer refuses the library for
/// it) and those symbols lose their version. Nothing is added and no code changes.
///
/// Applied to the copies in an output folder only (never the NuGet cache), only when the libstdc++ of this machine
/// lacks a version the glue needs, idempotently; a needed version that some relocation does use is not patched: the
/// build fails with what to install instead.
/// </summary>
public sealed class MakeTorchSharpGlueLoadable : Task
{
    /// <summary>The libLibTorchSharp.so copies in output folders.</summary>
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return true;
        string? libstdcxx = TorchSharpGluePatch.SystemLibStdCxx();
        if (libstdcxx == null)
        {
            Log.LogWarning("MLNet.Rescale: found no libstdc++.so.6 on this machine; TorchSharp's native glue is left as it is");
            return true;
        }
        HashSet<string> defined;
        try { defined = new HashSet<string>(Elf.Read(File.ReadAllBytes(libstdcxx)).DefinedVersions()); }
        catch (InvalidDataException e)
        {
            Log.LogWarning($"MLNet.Rescale: cannot read the version definitions of {libstdcxx} ({e.Message}); TorchSharp's native glue is left as it is");
            return true;
        }
        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            try
            {
                string outcome = TorchSharpGluePatch.Patch(path, libstdcxx, defined);
                Log.LogMessage(MessageImportance.Normal, $"MLNet.Rescale: {path}: {outcome}");
            }
            catch (InvalidDataException e)
            {
                Log.LogError($"MLNet.Rescale: {path}: {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }
}
#endif

/// <summary>The patch itself (see <c>MakeTorchSharpGlueLoadable</c>), shared by the build step and the runtime.</summary>
internal static class TorchSharpGluePatch
{
    /// <summary>Whether the glue at <paramref name="path"/> needs a libstdc++ version <paramref name="defined"/> lacks and is not yet patched.</summary>
    public static bool NeedsPatch(string path, HashSet<string> defined) =>
        Elf.Read(File.ReadAllBytes(path)).NeededVersions("libstdc++.so.6").Any(v => !defined.Contains(v.Name) && !v.Weak);

    /// <summary>The versions a libstdc++ defines.</summary>
    public static HashSet<string> DefinedVersions(string libstdcxx) => new HashSet<string>(Elf.Read(File.ReadAllBytes(libstdcxx)).DefinedVersions());

    /// <summary>Patches the glue at <paramref name="path"/> in place when it needs a version <paramref name="defined"/> lacks; says what it did.</summary>
    public static string Patch(string path, string libstdcxx, HashSet<string> defined)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var elf = Elf.Read(bytes);
        var missing = elf.NeededVersions("libstdc++.so.6").Where(v => !defined.Contains(v.Name)).ToList();
        var toWeaken = missing.Where(v => !v.Weak).ToList();
        if (toWeaken.Count == 0)
            return missing.Count == 0
                ? $"every libstdc++ version it needs is defined by {libstdcxx}; left untouched"
                : $"already patched ({string.Join(", ", missing.Select(v => v.Name))} weak)";

        var cleared = new List<string>();
        foreach (var version in toWeaken)
        {
            var symbols = elf.SymbolsOfVersion(version.Index);
            var used = symbols.Where(s => elf.IsRelocated(s.Index)).Select(s => s.Name).ToList();
            if (used.Count > 0)
                throw new InvalidDataException(
                    $"needs {version.Name} from libstdc++ for {string.Join(", ", used)}, and {libstdcxx} does not define it. " +
                    "Install a libstdc++ from GCC 13 or newer (Debian 13, Ubuntu 24.04 or newer have one).");
            elf.MarkWeak(version);
            foreach (var s in symbols) { elf.SetSymbolVersion(s.Index, 1); cleared.Add(s.Name); }
        }
        // Keep the copy's timestamp, so the next incremental build sees it as up to date and does not copy it again.
        var stamp = File.GetLastWriteTimeUtc(path);
        string temp = path + ".patching";
        File.WriteAllBytes(temp, bytes);
        File.SetLastWriteTimeUtc(temp, stamp);
        File.Replace(temp, path, null); // a rename: a build stopped half-way never leaves a torn library
        return $"{string.Join(", ", toWeaken.Select(v => v.Name))} (not defined by {libstdcxx}) marked weak; " +
               $"unversioned, referenced by no relocation: {string.Join(", ", cleared.DefaultIfEmpty("no symbol"))}";
    }

    /// <summary>The libstdc++ this very process runs with (the .NET host links it), else the usual places.</summary>
    public static string? SystemLibStdCxx()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                int at = line.IndexOf('/');
                if (at >= 0 && line.Contains("libstdc++.so.6")) return line.Substring(at).Trim();
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        foreach (var dir in new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib/aarch64-linux-gnu", "/usr/lib" })
        {
            string p = Path.Combine(dir, "libstdc++.so.6");
            if (File.Exists(p)) return p;
        }
        return null;
    }
}

/// <summary>Just enough of a little-endian ELF64 shared object: symbol versioning and relocations.</summary>
internal sealed class Elf
{
    private const uint ShtRela = 4, ShtRel = 9, ShtDynsym = 11;
    private const uint ShtVerdef = 0x6ffffffd, ShtVerneed = 0x6ffffffe, ShtVersym = 0x6fffffff;
    private const ushort VerFlgWeak = 2;

    private readonly byte[] b;
    private readonly List<Section> sections = new();

    // Plain classes, not records: inline tasks compile against netstandard2.0.
    internal sealed class Section
    {
        public Section(int index, uint type, long offset, long size, uint link) { Index = index; Type = type; Offset = offset; Size = size; Link = link; }
        public int Index { get; } public uint Type { get; } public long Offset { get; } public long Size { get; } public uint Link { get; }
    }
    internal sealed class NeededVersion
    {
        public NeededVersion(string name, int index, bool weak, long auxOffset) { Name = name; Index = index; Weak = weak; AuxOffset = auxOffset; }
        public string Name { get; } public int Index { get; } public bool Weak { get; } public long AuxOffset { get; }
    }
    internal sealed class Symbol
    {
        public Symbol(int index, string name) { Index = index; Name = name; }
        public int Index { get; } public string Name { get; }
    }

    private Elf(byte[] bytes) { b = bytes; }

    public static Elf Read(byte[] bytes)
    {
        if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (bytes[4] != 2 || bytes[5] != 1) throw new InvalidDataException("not a little-endian 64-bit ELF file");
        var elf = new Elf(bytes);
        long shoff = elf.U64(0x28);
        int shentsize = elf.U16(0x3A), shnum = elf.U16(0x3C);
        if (shoff <= 0 || shentsize < 64 || shoff + (long)shnum * shentsize > bytes.Length)
            throw new InvalidDataException("section headers out of range");
        for (int i = 0; i < shnum; i++)
        {
            long h = shoff + (long)i * shentsize;
            var s = new Section(i, elf.U32(h + 4), elf.U64(h + 24), elf.U64(h + 32), elf.U32(h + 40));
            if (s.Type != 8 /* NOBITS */ && (s.Offset < 0 || s.Offset + s.Size > bytes.Length))
                throw new InvalidDataException($"section {i} out of range");
            elf.sections.Add(s);
        }
        return elf;
    }

    public IEnumerable<string> DefinedVersions()
    {
        var def = sections.FirstOrDefault(s => s.Type == ShtVerdef);
        if (def == null) yield break;
        var strtab = sections[(int)def.Link];
        long at = def.Offset;
        for (int guard = 0; guard < 10_000; guard++)
        {
            long aux = at + U32(at + 12);
            yield return Str(strtab, U32(aux));
            uint next = U32(at + 16);
            if (next == 0) yield break;
            at += next;
        }
    }

    public List<NeededVersion> NeededVersions(string file)
    {
        var result = new List<NeededVersion>();
        var need = sections.FirstOrDefault(s => s.Type == ShtVerneed);
        if (need == null) return result;
        var strtab = sections[(int)need.Link];
        long at = need.Offset;
        for (int guard = 0; guard < 10_000; guard++)
        {
            int count = U16(at + 2);
            string name = Str(strtab, U32(at + 4));
            long aux = at + U32(at + 8);
            for (int i = 0; i < count; i++)
            {
                if (name == file)
                    result.Add(new NeededVersion(Str(strtab, U32(aux + 8)), U16(aux + 6) & 0x7fff, (U16(aux + 4) & VerFlgWeak) != 0, aux));
                uint nextAux = U32(aux + 12);
                if (nextAux == 0) break;
                aux += nextAux;
            }
            uint next = U32(at + 12);
            if (next == 0) break;
            at += next;
        }
        return result;
    }

    public List<Symbol> SymbolsOfVersion(int version)
    {
        var dynsym = sections.First(s => s.Type == ShtDynsym);
        var versym = sections.First(s => s.Type == ShtVersym);
        var strtab = sections[(int)dynsym.Link];
        var result = new List<Symbol>();
        long count = dynsym.Size / 24;
        for (int i = 1; i < count; i++)
            if ((U16(versym.Offset + 2L * i) & 0x7fff) == version)
                result.Add(new Symbol(i, Str(strtab, U32(dynsym.Offset + 24L * i))));
        return result;
    }

    public bool IsRelocated(int symbol)
    {
        int dynsym = sections.First(s => s.Type == ShtDynsym).Index;
        foreach (var s in sections.Where(s => (s.Type == ShtRela || s.Type == ShtRel) && s.Link == dynsym))
        {
            long entry = s.Type == ShtRela ? 24 : 16;
            for (long at = s.Offset; at + entry <= s.Offset + s.Size; at += entry)
                if ((U64(at + 8) >> 32) == symbol) return true;
        }
        return false;
    }

    public void MarkWeak(NeededVersion v) => W16(v.AuxOffset + 4, (ushort)(U16(v.AuxOffset + 4) | VerFlgWeak));

    public void SetSymbolVersion(int symbol, ushort version)
    {
        var versym = sections.First(s => s.Type == ShtVersym);
        W16(versym.Offset + 2L * symbol, version);
    }

    private string Str(Section strtab, uint offset)
    {
        if (offset >= strtab.Size) throw new InvalidDataException("string offset out of range");
        long start = strtab.Offset + offset, end = start;
        while (end < strtab.Offset + strtab.Size && b[end] != 0) end++;
        return Encoding.ASCII.GetString(b, (int)start, (int)(end - start));
    }

    private long Check(long at, int size) =>
        at >= 0 && at + size <= b.Length ? at : throw new InvalidDataException($"offset {at} out of range");
    private ushort U16(long at) => BitConverter.ToUInt16(b, (int)Check(at, 2));
    private uint U32(long at) => BitConverter.ToUInt32(b, (int)Check(at, 4));
    private long U64(long at) => (long)BitConverter.ToUInt64(b, (int)Check(at, 8));
    private void W16(long at, ushort value)
    {
        Check(at, 2);
        b[at] = (byte)value;
        b[at + 1] = (byte)(value >> 8);
    }
}
