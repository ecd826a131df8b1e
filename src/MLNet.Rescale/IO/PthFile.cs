using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Rescale.IO;

/// <summary>
/// Reads the tensors of a PyTorch checkpoint written by <c>torch.save</c> (the zip format of PyTorch ≥ 1.6 and the
/// legacy format before it) as data only. A <c>.pth</c> is a Python pickle, and a pickle is a program that may call
/// any Python function; this reader is not a pickle interpreter but a decoder of the few instructions
/// <c>torch.save</c> writes for a state dict: strings, numbers, tuples, lists, dicts, <c>collections.OrderedDict</c>,
/// and tensors rebuilt from their storages (<c>torch._utils._rebuild_tensor_v2</c>, <c>_rebuild_parameter</c>).
/// Every other global (<c>os.system</c>, <c>builtins.eval</c>, any class) and every instruction that builds an object
/// (<c>NEWOBJ</c>, <c>INST</c>, <c>OBJ</c>, extensions) is refused with an <see cref="InvalidDataException"/> naming the
/// file and what it asked for, before anything it names could be used. Nothing in the file is ever run.
/// </summary>
/// <remarks>
/// Our own reader rather than TorchSharp.PyBridge's: that one hands unknown globals to Razorvine.Pickle's registry of
/// constructors (process-wide, and open to registration), reads only the zip format, and loses the order of the
/// state dict; here the allowed globals are a closed list, both formats load, order is kept, and every malformed
/// input is an error naming the file.
/// </remarks>
public static class PthFile
{
    /// <summary>Largest pickle accepted (a state dict's pickle is a few hundred kilobytes).</summary>
    private const int MaxPickleBytes = 64 << 20;

    /// <summary>Whether the file starts like a PyTorch checkpoint (a zip archive, or a legacy pickle).</summary>
    public static bool LooksLikeCheckpoint(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using var f = File.OpenRead(path);
        int n = f.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        return n >= 2 && (head[0] == 0x80 && head[1] <= 5 || n == 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4);
    }

    /// <summary>
    /// The named tensors of the checkpoint, in the file's order: a state dict saved directly, or the one under
    /// <c>state_dict</c>, <c>model</c>, <c>params</c> or <c>net</c> in a training checkpoint; a <c>module.</c> prefix
    /// (DataParallel) is removed. Non-tensor entries are skipped.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a checkpoint, malformed, or asking for anything but data.</exception>
    public static List<KeyValuePair<string, Tensor>> ReadStateDict(string path)
    {
        object? root = Read(path);
        var dict = StateDictOf(root, path);
        var result = new List<KeyValuePair<string, Tensor>>();
        bool allPrefixed = dict.Count > 0 && dict.All(kv => kv.Key is string k && k.StartsWith("module.", StringComparison.Ordinal));
        foreach (var (key, value) in dict)
        {
            if (key is not string name || value is not Tensor t) continue;
            result.Add(new(allPrefixed ? name["module.".Length..] : name, t));
        }
        if (result.Count == 0) throw new InvalidDataException($"{path}: the checkpoint holds no named tensors");
        return result;
    }

    private static List<KeyValuePair<object, object?>> StateDictOf(object? root, string path)
    {
        if (root is not PyDict top) throw new InvalidDataException($"{path}: the checkpoint is a {Describe(root)}, not a dict of tensors");
        if (top.Pairs.Any(kv => kv.Value is Tensor)) return top.Pairs;
        foreach (var key in new[] { "state_dict", "model", "params", "net", "network" })
            if (top.Get(key) is PyDict inner && inner.Pairs.Any(kv => kv.Value is Tensor)) return inner.Pairs;
        throw new InvalidDataException($"{path}: found no state dict in the checkpoint (its keys: {string.Join(", ", top.Pairs.Take(8).Select(kv => kv.Key))})");
    }

    /// <summary>Decodes the checkpoint's object (dicts as <see cref="PyDict"/>, tensors as TorchSharp tensors).</summary>
    internal static object? Read(string path)
    {
        byte[] head = new byte[4];
        using (var f = File.OpenRead(path)) f.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        try
        {
            if (head[0] == (byte)'P' && head[1] == (byte)'K') return ReadZip(path);
            if (head[0] == 0x80) return ReadLegacy(path);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path}: the checkpoint ends early (truncated?)", e);
        }
        throw new InvalidDataException($"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle)");
    }

    private static object? ReadZip(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) || e.FullName == "data.pkl")
            ?? throw new InvalidDataException("the zip archive has no data.pkl (not written by torch.save)");
        string prefix = pkl.FullName[..^"data.pkl".Length];
        var byteorder = zip.GetEntry(prefix + "byteorder");
        if (byteorder is not null)
        {
            using var r = new StreamReader(byteorder.Open());
            string order = r.ReadToEnd().Trim();
            if (order != "little") throw new InvalidDataException($"the tensors are stored {order}-endian; only little-endian is supported");
        }
        var storages = new Dictionary<string, Tensor>();
        Tensor Storage(StorageRef s)
        {
            if (storages.TryGetValue(s.Key, out var known)) return known;
            var entry = zip.GetEntry(prefix + "data/" + s.Key) ?? throw new InvalidDataException($"storage '{s.Key}' is missing from the archive");
            long bytes = s.Elements * ElementSize(s.DType);
            if (entry.Length != bytes)
                throw new InvalidDataException($"storage '{s.Key}' has {entry.Length} bytes, {s.Elements} {s.DType} elements need {bytes}");
            var data = new byte[bytes];
            using (var stream = entry.Open()) stream.ReadExactly(data);
            return storages[s.Key] = FromBytes(data, s.DType);
        }
        var pickle = ReadAll(pkl.Open(), pkl.Length, "data.pkl");
        try
        {
            return new Decoder(pickle, Storage).Load();
        }
        finally
        {
            // The tensors are views of the storages, which they keep alive; the storages' own handles can go.
            foreach (var t in storages.Values) t.Dispose();
        }
    }

    private static object? ReadLegacy(string path)
    {
        var data = File.ReadAllBytes(path);
        int at = 0;
        object? Next(Func<StorageRef, Tensor> storage)
        {
            var decoder = new Decoder(data, storage, at);
            var value = decoder.Load();
            at = decoder.Position;
            return value;
        }
        Tensor NoStorage(StorageRef _) => throw new InvalidDataException("a header pickle refers to a storage");
        if (Next(NoStorage) is not System.Numerics.BigInteger magic || magic != LegacyMagic)
            throw new InvalidDataException("not a PyTorch checkpoint (a pickle without torch.save's magic number)");
        Next(NoStorage); // protocol version
        Next(NoStorage); // sys_info
        var refs = new List<StorageRef>();
        var placeholders = new Dictionary<string, Tensor>();
        Tensor Deferred(StorageRef s)
        {
            refs.Add(s);
            if (!placeholders.TryGetValue(s.Key, out var t)) placeholders[s.Key] = t = empty([s.Elements], s.DType);
            return t;
        }
        var root = Next(Deferred);
        if (Next(NoStorage) is not PyList keys) throw new InvalidDataException("the list of storage keys is missing");
        // The raw storages follow in the order of that list, each as an 8-byte element count and the elements.
        foreach (var keyObject in keys.Items)
        {
            string key = keyObject as string ?? throw new InvalidDataException("a storage key is not a string");
            if (!placeholders.TryGetValue(key, out var t)) throw new InvalidDataException($"storage '{key}' is listed but never used");
            if (at + 8 > data.Length) throw new EndOfStreamException();
            long count = BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(at));
            at += 8;
            long bytes = count * ElementSize(t.dtype);
            if (count != t.numel()) throw new InvalidDataException($"storage '{key}' holds {count} elements, its tensors say {t.numel()}");
            if (bytes > data.Length - at) throw new EndOfStreamException();
            if (bytes > 0) t.bytes = data.AsSpan(at, (int)bytes);
            at += (int)bytes;
        }
        if (placeholders.Count != keys.Items.Count) throw new InvalidDataException("some storages are used but not stored");
        // The tensors are views of the storages, which they keep alive; the storages' own handles can go.
        foreach (var t in placeholders.Values) t.Dispose();
        return root;
    }

    /// <summary>The integer torch.save's legacy format pickles first.</summary>
    private static readonly System.Numerics.BigInteger LegacyMagic = System.Numerics.BigInteger.Parse("1950a86a20f9469cfc6c", NumberStyles.HexNumber);

    private static byte[] ReadAll(Stream stream, long length, string what)
    {
        if (length > MaxPickleBytes) throw new InvalidDataException($"{what} is {length} bytes, above the {MaxPickleBytes}-byte limit");
        var data = new byte[length];
        using (stream) stream.ReadExactly(data);
        return data;
    }

    private static Tensor FromBytes(byte[] data, ScalarType dtype)
    {
        var t = empty([data.Length / ElementSize(dtype)], dtype);
        if (data.Length > 0) t.bytes = data;
        return t;
    }

    private static int ElementSize(ScalarType t) => t switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
        _ => throw new InvalidDataException($"unsupported element type {t}"),
    };

    private static string Describe(object? o) => o switch
    {
        null => "None",
        PyDict => "dict",
        PyList => "list",
        object?[] => "tuple",
        Tensor => "tensor",
        _ => o.GetType().Name,
    };

    /// <summary>A Python dict (or OrderedDict), in insertion order.</summary>
    internal sealed class PyDict
    {
        public List<KeyValuePair<object, object?>> Pairs { get; } = [];

        public object? Get(string key) => Pairs.FirstOrDefault(kv => kv.Key is string k && k == key).Value;

        public void Set(object key, object? value)
        {
            int i = Pairs.FindIndex(kv => Equals(kv.Key, key));
            if (i >= 0) Pairs[i] = new(key, value);
            else Pairs.Add(new(key, value));
        }
    }

    /// <summary>A Python list.</summary>
    internal sealed class PyList
    {
        public List<object?> Items { get; } = [];
    }

    /// <summary>A global the pickle named, allowed because it is one of the few torch.save writes.</summary>
    private sealed record PyGlobal(string Module, string Name)
    {
        public override string ToString() => Module + "." + Name;
    }

    /// <summary>A storage a tensor refers to: its element type, key and element count.</summary>
    private sealed record StorageRef(ScalarType DType, string Key, long Elements);

    private static readonly Dictionary<string, ScalarType> StorageTypes = new()
    {
        ["torch.FloatStorage"] = ScalarType.Float32, ["torch.DoubleStorage"] = ScalarType.Float64,
        ["torch.HalfStorage"] = ScalarType.Float16, ["torch.BFloat16Storage"] = ScalarType.BFloat16,
        ["torch.LongStorage"] = ScalarType.Int64, ["torch.IntStorage"] = ScalarType.Int32,
        ["torch.ShortStorage"] = ScalarType.Int16, ["torch.CharStorage"] = ScalarType.Int8,
        ["torch.ByteStorage"] = ScalarType.Byte, ["torch.BoolStorage"] = ScalarType.Bool,
    };

    private static readonly HashSet<string> Callables =
    [
        "collections.OrderedDict", "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
    ];

    /// <summary>Decodes one pickle (protocols 2–5) with a closed set of globals.</summary>
    private sealed class Decoder(byte[] data, Func<StorageRef, Tensor> storage, int start = 0)
    {
        private readonly List<object?> stack = [];
        private readonly Stack<int> marks = new();
        private readonly Dictionary<long, object?> memo = [];
        private int pos = start;

        public int Position => pos;

        public object? Load()
        {
            while (true)
            {
                int at = pos;
                byte op = U8();
                switch (op)
                {
                    case 0x80: U8(); break; // PROTO
                    case 0x95: Bytes(8); break; // FRAME: a hint only
                    case 0x2e: return stack.Count == 1 ? Pop() : throw Bad(at, "STOP with a malformed stack"); // STOP
                    case 0x28: marks.Push(stack.Count); break; // MARK
                    case 0x30: Pop(); break; // POP
                    case 0x31: PopMark(); break; // POP_MARK
                    case 0x32: Push(Peek()); break; // DUP
                    case 0x4e: Push(null); break; // NONE
                    case 0x88: Push(true); break; // NEWTRUE
                    case 0x89: Push(false); break; // NEWFALSE
                    case 0x4a: Push((long)BinaryPrimitives.ReadInt32LittleEndian(Bytes(4))); break; // BININT
                    case 0x4b: Push((long)U8()); break; // BININT1
                    case 0x4d: Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2))); break; // BININT2
                    case 0x8a: Push(Long(Bytes(U8()))); break; // LONG1
                    case 0x8b: Push(Long(Bytes(Length(BinaryPrimitives.ReadInt32LittleEndian(Bytes(4)), at)))); break; // LONG4
                    case 0x47: Push(BinaryPrimitives.ReadDoubleBigEndian(Bytes(8))); break; // BINFLOAT
                    case 0x58: Push(Utf8(Length(BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4)), at))); break; // BINUNICODE
                    case 0x8c: Push(Utf8(U8())); break; // SHORT_BINUNICODE
                    case 0x8d: Push(Utf8(Length(BinaryPrimitives.ReadInt64LittleEndian(Bytes(8)), at))); break; // BINUNICODE8
                    case 0x42: Push(Bytes(Length(BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4)), at)).ToArray()); break; // BINBYTES
                    case 0x43: Push(Bytes(U8()).ToArray()); break; // SHORT_BINBYTES
                    case 0x8e: Push(Bytes(Length(BinaryPrimitives.ReadInt64LittleEndian(Bytes(8)), at)).ToArray()); break; // BINBYTES8
                    case 0x55: Push(Encoding.Latin1.GetString(Bytes(U8()))); break; // SHORT_BINSTRING
                    case 0x54: Push(Encoding.Latin1.GetString(Bytes(Length(BinaryPrimitives.ReadInt32LittleEndian(Bytes(4)), at)))); break; // BINSTRING
                    case 0x29: Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                    case 0x85: Push(new[] { Pop() }); break; // TUPLE1
                    case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                    case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                    case 0x74: Push(PopMark().ToArray()); break; // TUPLE
                    case 0x5d: Push(new PyList()); break; // EMPTY_LIST
                    case 0x6c: { var l = new PyList(); l.Items.AddRange(PopMark()); Push(l); break; } // LIST
                    case 0x61: { var v = Pop(); ListAt(at).Items.Add(v); break; } // APPEND
                    case 0x65: { var items = PopMark(); ListAt(at).Items.AddRange(items); break; } // APPENDS
                    case 0x7d: Push(new PyDict()); break; // EMPTY_DICT
                    case 0x64: { var d = new PyDict(); AddPairs(d, PopMark(), at); Push(d); break; } // DICT
                    case 0x73: { var v = Pop(); var k = Pop(); DictAt(at).Set(Key(k, at), v); break; } // SETITEM
                    case 0x75: { var items = PopMark(); AddPairs(DictAt(at), items, at); break; } // SETITEMS
                    case 0x8f: Push(new PyList()); break; // EMPTY_SET (kept as a list of its items)
                    case 0x90: { var items = PopMark(); ListAt(at).Items.AddRange(items); break; } // ADDITEMS
                    case 0x71: memo[U8()] = Peek(); break; // BINPUT
                    case 0x72: memo[BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4))] = Peek(); break; // LONG_BINPUT
                    case 0x94: memo[memo.Count] = Peek(); break; // MEMOIZE
                    case 0x68: Push(Memo(U8(), at)); break; // BINGET
                    case 0x6a: Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4)), at)); break; // LONG_BINGET
                    case 0x63: Push(Global(Line(), Line(), at)); break; // GLOBAL
                    case 0x93: { var name = Pop(); var module = Pop(); Push(Global(module as string, name as string, at)); break; } // STACK_GLOBAL
                    case 0x51: Push(Persistent(Pop(), at)); break; // BINPERSID
                    case 0x52: { var args = Pop(); var callable = Pop(); Push(Reduce(callable, args, at)); break; } // REDUCE
                    case 0x62: // BUILD: only an OrderedDict's attributes (state_dict()._metadata), which are ignored
                        {
                            Pop();
                            if (Peek() is not PyDict) throw Bad(at, $"BUILD on a {Describe(Peek())}: setting the state of an object is not something a state dict needs");
                            break;
                        }
                    case 0x81 or 0x92 or 0x69 or 0x6f:
                        throw Bad(at, "the pickle instantiates a class (NEWOBJ/INST/OBJ); a state dict holds only tensors and plain containers, so it is refused");
                    case 0x82 or 0x83 or 0x84:
                        throw Bad(at, "the pickle uses the extension registry (EXT), which a state dict never does; refused");
                    default:
                        throw Bad(at, $"pickle instruction 0x{op:x2} ('{(char)op}') is not one torch.save writes for a state dict; refused");
                }
            }
        }

        private object Global(string? module, string? name, int at)
        {
            if (module is null || name is null) throw Bad(at, "a global's module or name is not a string");
            string full = module + "." + name;
            if (Callables.Contains(full) || StorageTypes.ContainsKey(full)) return new PyGlobal(module, name);
            throw Bad(at, $"the pickle refers to {full}, which is not a tensor, a storage or a plain container; a .pth is loaded as data and nothing in it is run, so it is refused");
        }

        private Tensor Persistent(object? pid, int at)
        {
            // ('storage', storage type, key, location, element count[, view metadata])
            if (pid is not object?[] { Length: >= 5 } t || t[0] is not "storage")
                throw Bad(at, "a persistent id that is not a storage reference");
            if (t[1] is not PyGlobal type || !StorageTypes.TryGetValue(type.ToString(), out var dtype))
                throw Bad(at, $"storage of unknown type {t[1]}");
            string key = t[2] as string ?? throw Bad(at, "a storage key that is not a string");
            long count = t[4] is long n && n >= 0 ? n : throw Bad(at, "a storage size that is not a non-negative integer");
            if (t.Length > 5 && t[5] is not null) throw Bad(at, "storage views (legacy format) are not supported");
            return storage(new StorageRef(dtype, key, count));
        }

        private object? Reduce(object? callable, object? args, int at)
        {
            if (callable is not PyGlobal g || !Callables.Contains(g.ToString()))
                throw Bad(at, $"the pickle calls {callable ?? "None"}, which is not allowed");
            if (args is not object?[] a) throw Bad(at, $"arguments of {g} are not a tuple");
            switch (g.Name)
            {
                case "OrderedDict":
                    if (a.Length != 0) throw Bad(at, "OrderedDict with arguments");
                    return new PyDict();
                case "_rebuild_tensor" or "_rebuild_tensor_v2":
                    if (a.Length < 4) throw Bad(at, $"{g} with {a.Length} arguments");
                    return Rebuild(a[0], a[1], a[2], a[3], at);
                default: // _rebuild_parameter(data, requires_grad, hooks[, state])
                    return a.Length >= 1 && a[0] is Tensor data ? data : throw Bad(at, $"{g} of something that is not a tensor");
            }
        }

        private Tensor Rebuild(object? storageObject, object? offsetObject, object? sizeObject, object? strideObject, int at)
        {
            if (storageObject is not Tensor flat) throw Bad(at, "a tensor whose storage is not a storage reference");
            long offset = offsetObject is long o && o >= 0 ? o : throw Bad(at, "a negative or non-integer storage offset");
            long[] size = Longs(sizeObject, at), stride = Longs(strideObject, at);
            if (size.Length != stride.Length) throw Bad(at, "a tensor whose size and stride differ in length");
            if (size.Any(s => s < 0) || stride.Any(s => s < 0)) throw Bad(at, "a tensor with a negative size or stride");
            long numel = size.Aggregate(1L, (x, y) => checked(x * y));
            if (numel > 0)
            {
                long last = offset;
                for (int i = 0; i < size.Length; i++) last = checked(last + (size[i] - 1) * stride[i]);
                if (last >= flat.numel()) throw Bad(at, $"a tensor of size [{string.Join(", ", size)}] reaches past its storage of {flat.numel()} elements");
            }
            // A view, not a copy: in the legacy format the storage is filled only after the whole pickle is read.
            return numel == 0 ? empty(size, flat.dtype) : flat.as_strided(size, stride, offset);
        }

        private static long[] Longs(object? o, int at) => o is object?[] t && t.All(x => x is long)
            ? t.Select(x => (long)x!).ToArray()
            : throw new InvalidDataException($"at byte {at} of the pickle: a tensor size or stride that is not a tuple of integers");

        private static object Key(object? k, int at) => k ?? throw new InvalidDataException($"at byte {at} of the pickle: a dict key is None");

        private void AddPairs(PyDict d, List<object?> items, int at)
        {
            if (items.Count % 2 != 0) throw Bad(at, "an odd number of dict items");
            for (int i = 0; i < items.Count; i += 2) d.Set(Key(items[i], at), items[i + 1]);
        }

        private PyDict DictAt(int at) => Peek() as PyDict ?? throw Bad(at, $"setting an item of a {Describe(Peek())}");
        private PyList ListAt(int at) => Peek() as PyList ?? throw Bad(at, $"appending to a {Describe(Peek())}");

        private object? Memo(long key, int at) => memo.TryGetValue(key, out var v) ? v : throw Bad(at, $"memo entry {key} used before it is set");

        private static object Long(ReadOnlySpan<byte> bytes)
        {
            var value = new System.Numerics.BigInteger(bytes, isUnsigned: false, isBigEndian: false);
            return value >= long.MinValue && value <= long.MaxValue ? (long)value : value;
        }

        private int Length(long n, int at) => n >= 0 && n <= data.Length - pos ? (int)n : throw Bad(at, $"a length of {n} bytes goes past the end of the pickle");

        private byte U8() => pos < data.Length ? data[pos++] : throw new EndOfStreamException();

        private ReadOnlySpan<byte> Bytes(int n)
        {
            if (n < 0 || n > data.Length - pos) throw new EndOfStreamException();
            var s = data.AsSpan(pos, n);
            pos += n;
            return s;
        }

        private string Utf8(int n) => Encoding.UTF8.GetString(Bytes(n));

        private string Line()
        {
            int end = Array.IndexOf(data, (byte)'\n', pos);
            if (end < 0 || end - pos > 256) throw new EndOfStreamException();
            string s = Encoding.ASCII.GetString(data, pos, end - pos);
            pos = end + 1;
            return s;
        }

        private void Push(object? o) => stack.Add(o);

        private object? Pop()
        {
            if (stack.Count == 0 || (marks.Count > 0 && marks.Peek() >= stack.Count)) throw Bad(pos - 1, "the stack is empty");
            var o = stack[^1];
            stack.RemoveAt(stack.Count - 1);
            return o;
        }

        private object? Peek() => stack.Count > 0 ? stack[^1] : throw Bad(pos - 1, "the stack is empty");

        private List<object?> PopMark()
        {
            if (marks.Count == 0) throw Bad(pos - 1, "no MARK to pop to");
            int m = marks.Pop();
            var items = stack.GetRange(m, stack.Count - m);
            stack.RemoveRange(m, stack.Count - m);
            return items;
        }

        private static InvalidDataException Bad(int at, string problem) =>
            new(string.Create(CultureInfo.InvariantCulture, $"at byte {at} of the pickle: {problem}"));
    }
}
