using System.Collections;

namespace MLNet.Rescale.ML.Data;

/// <summary>
/// What an estimator knows about a schema before it has seen data: column names, types and the names of their
/// annotations (not their values, which only fitting produces). <see cref="Core.IEstimator{TTransformer}.GetOutputSchema"/>
/// propagates it so that a pipeline is checked before anything is trained.
/// </summary>
public sealed class SchemaShape : IReadOnlyList<SchemaShape.Column>
{
    private readonly Column[] columns;

    /// <summary>A column's shape.</summary>
    /// <param name="Name">Column name.</param>
    /// <param name="Type">Type of its values.</param>
    /// <param name="Annotations">Names of the annotations it will carry.</param>
    public sealed record Column(string Name, DataViewType Type, IReadOnlyList<string> Annotations)
    {
        /// <summary>Whether the column will carry the annotation <paramref name="name"/>.</summary>
        public bool HasAnnotation(string name) => Annotations.Contains(name);
    }

    /// <summary>A shape of the given columns.</summary>
    public SchemaShape(IEnumerable<Column> columns) => this.columns = columns.ToArray();

    /// <summary>The shape of an actual schema.</summary>
    public static SchemaShape Create(DataViewSchema schema) =>
        new(schema.Select(c => new Column(c.Name, c.Type, c.Annotations.Keys.Order(StringComparer.Ordinal).ToArray())));

    /// <summary>The column named <paramref name="name"/>, or null.</summary>
    public Column? Find(string name) => Array.Find(columns, c => c.Name == name);

    /// <summary>This shape with <paramref name="column"/> added, replacing one of the same name.</summary>
    public SchemaShape With(Column column)
    {
        var list = columns.ToList();
        int i = list.FindIndex(c => c.Name == column.Name);
        if (i >= 0) list[i] = column;
        else list.Add(column);
        return new SchemaShape(list);
    }

    /// <summary>The column at <paramref name="index"/>.</summary>
    public Column this[int index] => columns[index];

    /// <summary>Number of columns.</summary>
    public int Count => columns.Length;

    /// <inheritdoc/>
    public IEnumerator<Column> GetEnumerator() => ((IEnumerable<Column>)columns).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
