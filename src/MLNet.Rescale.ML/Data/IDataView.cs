namespace MLNet.Rescale.ML.Data;

/// <summary>Reads the current row's value of one column into <paramref name="value"/>.</summary>
public delegate void ValueGetter<TValue>(ref TValue value);

/// <summary>
/// A lazily evaluated table: a schema and rows read through cursors. Views built by transformers compute a column only
/// when a cursor asks for it, row by row; nothing is materialized unless a consumer (a trainer, an evaluation) reads it.
/// </summary>
public interface IDataView
{
    /// <summary>The columns.</summary>
    DataViewSchema Schema { get; }

    /// <summary>The number of rows if known without reading them, else null.</summary>
    long? GetRowCount();

    /// <summary>A cursor over the rows that can read the <paramref name="columnsNeeded"/> (other columns are not computed).</summary>
    DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded);
}

/// <summary>A forward-only position in a data view.</summary>
public abstract class DataViewRowCursor : IDisposable
{
    /// <summary>The schema of the view being read.</summary>
    public abstract DataViewSchema Schema { get; }

    /// <summary>The current row's index: −1 before the first <see cref="MoveNext"/>.</summary>
    public abstract long Position { get; }

    /// <summary>Moves to the next row; false at the end.</summary>
    public abstract bool MoveNext();

    /// <summary>Whether the cursor was asked to read <paramref name="column"/>.</summary>
    public abstract bool IsColumnActive(DataViewSchema.Column column);

    /// <summary>
    /// A getter of the current row's value of <paramref name="column"/>; <typeparamref name="TValue"/> must be the column's
    /// <see cref="DataViewType.RawType"/>.
    /// </summary>
    public abstract ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column);

    /// <summary>Throws unless the column is active and <typeparamref name="TValue"/> is its raw type.</summary>
    protected void CheckGetter<TValue>(DataViewSchema.Column column)
    {
        if (column.Index >= Schema.Count || Schema[column.Index].Name != column.Name)
            throw new ArgumentOutOfRangeException(nameof(column), $"column '{column.Name}' is not in this cursor's schema");
        if (!IsColumnActive(column)) throw new InvalidOperationException($"column '{column.Name}' was not requested when the cursor was created");
        if (typeof(TValue) != column.Type.RawType)
            throw new InvalidOperationException($"column '{column.Name}' holds {column.Type} values ({column.Type.RawType.Name}), not {typeof(TValue).Name}");
    }

    /// <summary>Releases what the cursor holds.</summary>
    protected virtual void Dispose(bool disposing) { }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }
}

/// <summary>Helpers for reading data views.</summary>
public static class DataViewExtensions
{
    /// <summary>The values of one column, read lazily through a cursor (ML.NET's <c>GetColumn</c>).</summary>
    public static IEnumerable<T> GetColumn<T>(this IDataView data, string columnName)
    {
        var column = data.Schema[columnName];
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<T>(column);
        while (cursor.MoveNext())
        {
            T value = default!;
            getter(ref value);
            yield return value;
        }
    }

    /// <summary>Counts the rows (without computing any column when the count is not known).</summary>
    public static long CountRows(this IDataView data)
    {
        if (data.GetRowCount() is { } n) return n;
        using var cursor = data.GetRowCursor([]);
        long count = 0;
        while (cursor.MoveNext()) count++;
        return count;
    }
}
