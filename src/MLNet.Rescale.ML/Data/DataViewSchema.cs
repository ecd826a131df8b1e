using System.Collections;

namespace MLNet.Rescale.ML.Data;

/// <summary>Names of the annotations this library attaches to columns.</summary>
public static class AnnotationNames
{
    /// <summary>
    /// On an LR image column: the <see cref="Networks.RescaleNetwork"/> that made it, so that an upscaler or an LR optimizer
    /// later in the pipeline uses the same network (the way ML.NET's key columns carry their vocabulary).
    /// </summary>
    public const string RescalingModel = "RescalingModel";

    /// <summary>On an LR or upscaled column: the scale factor (<see cref="int"/>); evaluation crops this border.</summary>
    public const string Scale = "Scale";
}

/// <summary>The columns of a data view: name, position and type of each, plus annotations (metadata about the column).</summary>
public sealed class DataViewSchema : IReadOnlyList<DataViewSchema.Column>
{
    private static readonly IReadOnlyDictionary<string, object> NoAnnotations = new Dictionary<string, object>();
    private readonly Column[] columns;

    /// <summary>One column.</summary>
    /// <param name="Name">Column name.</param>
    /// <param name="Index">Position in the schema.</param>
    /// <param name="Type">Type of its values.</param>
    /// <param name="Annotations">Metadata about the column (see <see cref="AnnotationNames"/>).</param>
    public sealed record Column(string Name, int Index, DataViewType Type, IReadOnlyDictionary<string, object> Annotations)
    {
        /// <inheritdoc/>
        public override string ToString() => $"{Name} ({Type})";
    }

    private DataViewSchema(Column[] columns) => this.columns = columns;

    /// <summary>A schema of the given (name, type) columns, in order, without annotations.</summary>
    public static DataViewSchema Create(IEnumerable<(string Name, DataViewType Type)> columns)
    {
        var list = columns.Select((c, i) => new Column(c.Name, i, c.Type, NoAnnotations)).ToArray();
        var dup = list.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"column '{dup.Key}' appears twice");
        return new DataViewSchema(list);
    }

    /// <summary>The column named <paramref name="name"/>; throws naming the column and the ones that exist.</summary>
    public Column this[string name] => GetColumnOrNull(name)
        ?? throw new ArgumentOutOfRangeException(nameof(name), $"column '{name}' not found (columns: {string.Join(", ", columns.Select(c => c.Name))})");

    /// <summary>The column at <paramref name="index"/>.</summary>
    public Column this[int index] => columns[index];

    /// <summary>Number of columns.</summary>
    public int Count => columns.Length;

    /// <summary>The column named <paramref name="name"/>, or null.</summary>
    public Column? GetColumnOrNull(string name) => Array.Find(columns, c => c.Name == name);

    /// <summary>
    /// This schema with a column <paramref name="name"/> added; a column of that name is replaced in place (so every
    /// other column keeps its index), as ML.NET's transforms hide a column they overwrite.
    /// </summary>
    public DataViewSchema WithColumn(string name, DataViewType type, IReadOnlyDictionary<string, object>? annotations = null)
    {
        var existing = GetColumnOrNull(name);
        int index = existing?.Index ?? columns.Length;
        var list = columns.ToList();
        var column = new Column(name, index, type, annotations ?? NoAnnotations);
        if (existing is null) list.Add(column);
        else list[index] = column;
        return new DataViewSchema([.. list]);
    }

    /// <inheritdoc/>
    public IEnumerator<Column> GetEnumerator() => ((IEnumerable<Column>)columns).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc/>
    public override string ToString() => string.Join(", ", columns.Select(c => c.ToString()));
}
