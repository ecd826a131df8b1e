namespace MLNet.Rescale.ML.Data;

/// <summary>A view over rows held as object arrays, produced lazily by a function (enumerables, directory listings).</summary>
internal sealed class RowsDataView(DataViewSchema schema, Func<IEnumerable<object?[]>> rows, long? count) : IDataView
{
    public DataViewSchema Schema { get; } = schema;

    private Func<IEnumerable<object?[]>> Rows { get; } = rows;

    public long? GetRowCount() => count;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded) => new Cursor(this, columnsNeeded);

    private sealed class Cursor(RowsDataView view, IEnumerable<DataViewSchema.Column> needed) : DataViewRowCursor
    {
        private readonly IEnumerator<object?[]> rows = view.Rows().GetEnumerator();
        private readonly HashSet<int> active = needed.Select(c => c.Index).ToHashSet();
        private long position = -1;

        public override DataViewSchema Schema => view.Schema;
        public override long Position => position;
        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override bool MoveNext()
        {
            if (!rows.MoveNext()) return false;
            position++;
            return true;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            CheckGetter<TValue>(column);
            int i = column.Index;
            return (ref TValue value) =>
            {
                if (position < 0) throw new InvalidOperationException("the cursor is not on a row; call MoveNext first");
                value = (TValue)rows.Current[i]!;
            };
        }

        protected override void Dispose(bool disposing) => rows.Dispose();
    }
}

/// <summary>
/// The lazy output of a row-to-row transformer: the input view plus one computed column (replacing a column of the same
/// name). The value is computed when a getter first asks for it on a row, and at most once per row.
/// </summary>
internal sealed class MappedDataView : IDataView
{
    private readonly IDataView input;
    private readonly DataViewSchema.Column output;
    private readonly IReadOnlyList<string> inputColumns;
    private readonly Func<MappedRow, object> map;

    public MappedDataView(IDataView input, DataViewSchema schema, string outputColumn, IReadOnlyList<string> inputColumns, Func<MappedRow, object> map)
    {
        this.input = input;
        Schema = schema;
        output = schema[outputColumn];
        this.inputColumns = inputColumns;
        this.map = map;
    }

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded)
    {
        var needed = columnsNeeded.ToList();
        bool computes = needed.Any(c => c.Index == output.Index);
        // The input columns read: those asked for (except the one computed here, which may hide an input column of the
        // same name) and, when the output is asked for, the ones it is computed from.
        var names = needed.Where(c => c.Index != output.Index).Select(c => c.Name).ToHashSet();
        if (computes) names.UnionWith(inputColumns);
        var inputCursor = input.GetRowCursor(names.Select(n => input.Schema[n]).ToList());
        return new Cursor(this, inputCursor, needed.Select(c => c.Index).ToHashSet());
    }

    private sealed class Cursor(MappedDataView view, DataViewRowCursor inner, HashSet<int> active) : DataViewRowCursor
    {
        private object? value;
        private long computedAt = -1;

        public override DataViewSchema Schema => view.Schema;
        public override long Position => inner.Position;
        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);
        public override bool MoveNext() => inner.MoveNext();

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            CheckGetter<TValue>(column);
            if (column.Index != view.output.Index) return inner.GetGetter<TValue>(view.input.Schema[column.Name]);
            var row = new MappedRow(inner, view.input.Schema);
            return (ref TValue result) =>
            {
                if (inner.Position < 0) throw new InvalidOperationException("the cursor is not on a row; call MoveNext first");
                if (computedAt != inner.Position)
                {
                    value = view.map(row);
                    computedAt = inner.Position;
                }
                result = (TValue)value!;
            };
        }

        protected override void Dispose(bool disposing) => inner.Dispose();
    }
}

/// <summary>The input row a transformer computes its output column from.</summary>
public sealed class MappedRow
{
    private readonly DataViewRowCursor cursor;
    private readonly DataViewSchema schema;
    private readonly Dictionary<string, Delegate> getters = new();

    internal MappedRow(DataViewRowCursor cursor, DataViewSchema schema)
    {
        this.cursor = cursor;
        this.schema = schema;
    }

    /// <summary>The row's index in the view.</summary>
    public long Position => cursor.Position;

    /// <summary>The value of the input column <paramref name="columnName"/> on this row.</summary>
    public T Get<T>(string columnName)
    {
        if (!getters.TryGetValue(columnName, out var getter))
            getters[columnName] = getter = cursor.GetGetter<T>(schema[columnName]);
        T value = default!;
        ((ValueGetter<T>)getter)(ref value);
        return value;
    }
}

/// <summary>The rows of a view whose indices a predicate accepts (train/test splits).</summary>
internal sealed class FilteredDataView(IDataView input, Func<long, bool> keep, long count) : IDataView
{
    public DataViewSchema Schema => input.Schema;

    private Func<long, bool> Keep { get; } = keep;

    public long? GetRowCount() => count;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded) => new Cursor(this, input.GetRowCursor(columnsNeeded));

    private sealed class Cursor(FilteredDataView view, DataViewRowCursor inner) : DataViewRowCursor
    {
        private long position = -1;

        public override DataViewSchema Schema => view.Schema;
        public override long Position => position;
        public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);

        public override bool MoveNext()
        {
            while (inner.MoveNext())
            {
                if (!view.Keep(inner.Position)) continue;
                position++;
                return true;
            }
            return false;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => inner.GetGetter<TValue>(column);

        protected override void Dispose(bool disposing) => inner.Dispose();
    }
}
