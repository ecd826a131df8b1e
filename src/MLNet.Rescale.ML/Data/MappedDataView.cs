using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.Rescale.Imaging;

namespace MLNet.Rescale.ML.Data;

/// <summary>
/// What one transformer does to one input schema: the output schema (the input's columns, then the output column; an
/// input column of the same name stays, hidden, as in ML.NET), the input columns the output is computed from, and the
/// computation of one row (an <see cref="Image"/>, shown as an <see cref="MLImage"/>, or a string, shown as text).
/// </summary>
internal sealed class ColumnBinding
{
    public ColumnBinding(DataViewSchema input, string outputName, DataViewType outputType, DataViewSchema.Annotations? annotations,
        IReadOnlyList<DataViewSchema.Column> reads, Func<RowInputs, object> compute)
    {
        Input = input;
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        builder.AddColumn(outputName, outputType, annotations);
        Output = builder.ToSchema();
        OutputIndex = input.Count;
        Reads = reads;
        Compute = compute;
    }

    public DataViewSchema Input { get; }
    public DataViewSchema Output { get; }
    public int OutputIndex { get; }
    public IReadOnlyList<DataViewSchema.Column> Reads { get; }
    public Func<RowInputs, object> Compute { get; }

    /// <summary>The input columns needed to serve <paramref name="outputColumns"/> (passed-through ones, plus what the output reads).</summary>
    public IEnumerable<DataViewSchema.Column> InputsFor(IEnumerable<DataViewSchema.Column> outputColumns)
    {
        var needed = new SortedDictionary<int, DataViewSchema.Column>();
        foreach (var column in outputColumns)
        {
            if (column.Index == OutputIndex)
                foreach (var read in Reads) needed[read.Index] = read;
            else if (column.Index < OutputIndex) needed[column.Index] = Input[column.Index];
        }
        return needed.Values;
    }
}

/// <summary>The lazy output of a row-to-row transformer over any <see cref="IDataView"/>.</summary>
internal sealed class MappedDataView(IDataView input, ColumnBinding binding) : IDataView
{
    public DataViewSchema Schema => binding.Output;
    public bool CanShuffle => input.CanShuffle;
    public long? GetRowCount() => input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        return new MappedCursor(input.GetRowCursor(binding.InputsFor(needed), rand), binding, needed);
    }

    // One cursor: the networks run on libtorch's own threads, and a single stream keeps each row computed once.
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];
}

/// <summary>The transformer as an <see cref="IRowToRowMapper"/> (what <c>PredictionEngine</c> and chains of mappers use).</summary>
internal sealed class MappedRowMapper(ColumnBinding binding) : IRowToRowMapper
{
    public DataViewSchema InputSchema => binding.Input;
    public DataViewSchema OutputSchema => binding.Output;
    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) => binding.InputsFor(dependingColumns);

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new MappedRow(new MappedValues(input, binding, activeColumns));
}

/// <summary>
/// The values of the current row: input columns passed through, the output column computed when first read on a row
/// and kept until the row changes, so any number of readers cost one computation.
/// </summary>
internal sealed class MappedValues
{
    private readonly DataViewRow input;
    private readonly ColumnBinding binding;
    private readonly bool outputActive;
    private readonly RowInputs inputs;
    private long computedAt = -1;
    private object? value;
    private byte[]? bgra;

    public MappedValues(DataViewRow input, ColumnBinding binding, IEnumerable<DataViewSchema.Column> active)
    {
        this.input = input;
        this.binding = binding;
        outputActive = active.Any(c => c.Index == binding.OutputIndex);
        inputs = new RowInputs(input);
    }

    public DataViewRow Input => input;
    public DataViewSchema Schema => binding.Output;

    public bool IsActive(DataViewSchema.Column column) =>
        column.Index == binding.OutputIndex ? outputActive : column.Index < binding.OutputIndex && input.IsColumnActive(binding.Input[column.Index]);

    public ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (column.Index < binding.OutputIndex) return input.GetGetter<TValue>(binding.Input[column.Index]);
        if (column.Index != binding.OutputIndex || !outputActive)
            throw new InvalidOperationException($"column '{column.Name}' was not requested when the cursor or row was created");
        if (typeof(TValue) == typeof(MLImage) && binding.Output[column.Index].Type is ImageDataViewType)
        {
            ValueGetter<MLImage> images = (ref MLImage dst) =>
            {
                // ML.NET's convention: a getter disposes the image its caller held from the previous call.
                dst?.Dispose();
                var image = (Image)Current();
                bgra ??= MLImageConversions.ToBgra32(image);
                dst = MLImage.CreateFromPixels(image.Width, image.Height, MLPixelFormat.Bgra32, bgra);
            };
            return (ValueGetter<TValue>)(Delegate)images;
        }
        if (typeof(TValue) == typeof(ReadOnlyMemory<char>) && binding.Output[column.Index].Type is TextDataViewType)
        {
            ValueGetter<ReadOnlyMemory<char>> text = (ref ReadOnlyMemory<char> dst) => dst = ((string)Current()).AsMemory();
            return (ValueGetter<TValue>)(Delegate)text;
        }
        throw new InvalidOperationException($"column '{column.Name}' holds {column.Type} values ({column.Type.RawType.Name}), not {typeof(TValue).Name}");
    }

    private object Current()
    {
        long position = input.Position;
        if (position < 0) throw new InvalidOperationException("the cursor is not on a row; call MoveNext first");
        if (computedAt != position)
        {
            value = null;
            bgra = null;
            value = binding.Compute(inputs);
            computedAt = position;
        }
        return value!;
    }
}

/// <summary>A row of a <see cref="MappedRowMapper"/>.</summary>
internal sealed class MappedRow(MappedValues values) : DataViewRow
{
    public override DataViewSchema Schema => values.Schema;
    public override long Position => values.Input.Position;
    public override long Batch => values.Input.Batch;
    public override ValueGetter<DataViewRowId> GetIdGetter() => values.Input.GetIdGetter();
    public override bool IsColumnActive(DataViewSchema.Column column) => values.IsActive(column);
    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => values.GetGetter<TValue>(column);
}

/// <summary>A cursor of a <see cref="MappedDataView"/>.</summary>
internal sealed class MappedCursor(DataViewRowCursor input, ColumnBinding binding, IEnumerable<DataViewSchema.Column> active) : DataViewRowCursor
{
    private readonly MappedValues values = new(input, binding, active);

    public override DataViewSchema Schema => values.Schema;
    public override long Position => input.Position;
    public override long Batch => input.Batch;
    public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();
    public override bool IsColumnActive(DataViewSchema.Column column) => values.IsActive(column);
    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => values.GetGetter<TValue>(column);
    public override bool MoveNext() => input.MoveNext();

    protected override void Dispose(bool disposing)
    {
        if (disposing) input.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>The input columns of the current row, as a transformer reads them (images converted to <see cref="Image"/>).</summary>
internal sealed class RowInputs
{
    private readonly DataViewRow row;
    private readonly Dictionary<int, Delegate> getters = [];
    private readonly Dictionary<int, MLImage?> buffers = [];

    internal RowInputs(DataViewRow row) => this.row = row;

    /// <summary>The row's position in its view.</summary>
    public long Position => row.Position;

    /// <summary>The image of <paramref name="column"/> on this row; a missing image is an error naming the column and row.</summary>
    public Image Image(DataViewSchema.Column column)
    {
        if (!getters.TryGetValue(column.Index, out var getter)) getters[column.Index] = getter = row.GetGetter<MLImage>(column);
        buffers.TryGetValue(column.Index, out var buffer);
        ((ValueGetter<MLImage>)getter)(ref buffer!);
        buffers[column.Index] = buffer;
        if (buffer is null) throw new InvalidOperationException($"row {row.Position}: column '{column.Name}' holds no image");
        return buffer.ToImage();
    }

    /// <summary>The text of the column named <paramref name="columnName"/> on this row.</summary>
    public string Text(string columnName)
    {
        var column = row.Schema[columnName];
        if (!getters.TryGetValue(column.Index, out var getter)) getters[column.Index] = getter = row.GetGetter<ReadOnlyMemory<char>>(column);
        ReadOnlyMemory<char> text = default;
        ((ValueGetter<ReadOnlyMemory<char>>)getter)(ref text);
        return text.ToString();
    }
}
