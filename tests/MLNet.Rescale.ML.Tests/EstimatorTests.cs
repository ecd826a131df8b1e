using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Core;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Model;

namespace MLNet.Rescale.ML.Tests;

/// <summary>
/// ML.NET's <c>TestEstimatorCore</c> habit: every estimator goes through one helper that checks schema propagation
/// (the shape reported before fitting matches the schema after), fits, transforms, saves, loads and compares the
/// loaded transformer's outputs with the original's, value by value.
/// </summary>
public static class EstimatorChecks
{
    public static TTransformer TestEstimatorCore<TTransformer>(IEstimator<TTransformer> estimator, IDataView validFitInput,
        string modelPath, IDataView? validTransformInput = null, IDataView? invalidInput = null)
        where TTransformer : class, ITransformer
    {
        var transformInput = validTransformInput ?? validFitInput;

        // Schema propagation: what the estimator promises before fitting is what the fitted transformer produces.
        var shape = estimator.GetOutputSchema(SchemaShape.Create(validFitInput.Schema));
        var transformer = estimator.Fit(validFitInput);
        var schema = transformer.GetOutputSchema(transformInput.Schema);
        Assert.Equal(shape.Select(c => (c.Name, c.Type.Name)), schema.Select(c => (c.Name, c.Type.Name)));
        foreach (var column in shape)
            Assert.Equal(column.Annotations.Order(StringComparer.Ordinal), schema[column.Name].Annotations.Keys.Order(StringComparer.Ordinal));

        var output = transformer.Transform(transformInput);
        Assert.Equal(schema.Select(c => (c.Name, c.Type.Name)), output.Schema.Select(c => (c.Name, c.Type.Name)));
        Assert.True(transformer.IsRowToRowMapper);

        // Save, load, and compare every column of every row.
        ModelFormat.Save(transformer, transformInput.Schema, modelPath);
        var loaded = ModelFormat.Load(modelPath, out var savedSchema);
        Assert.Equal(transformInput.Schema.Select(c => (c.Name, c.Type.Name)), savedSchema.Select(c => (c.Name, c.Type.Name)));
        var reloadedOutput = loaded.Transform(transformInput);
        AssertSameRows(output, reloadedOutput);

        if (invalidInput is not null)
        {
            Assert.Throws<InvalidOperationException>(() => estimator.GetOutputSchema(SchemaShape.Create(invalidInput.Schema)));
            Assert.Throws<InvalidOperationException>(() => estimator.Fit(invalidInput));
        }
        return transformer;
    }

    /// <summary>Both views hold the same columns and, row by row, equal values (images sample for sample).</summary>
    public static void AssertSameRows(IDataView expected, IDataView actual)
    {
        Assert.Equal(expected.Schema.Select(c => (c.Name, c.Type.Name)), actual.Schema.Select(c => (c.Name, c.Type.Name)));
        foreach (var column in expected.Schema)
        {
            var a = Values(expected, column).ToList();
            var b = Values(actual, actual.Schema[column.Name]).ToList();
            Assert.Equal(a.Count, b.Count);
            for (int i = 0; i < a.Count; i++)
            {
                if (a[i] is Image x && b[i] is Image y)
                {
                    Assert.Equal((x.Width, x.Height, x.Channels), (y.Width, y.Height, y.Channels));
                    Assert.True(x.Data.AsSpan().SequenceEqual(y.Data), $"column '{column.Name}' row {i}: images differ");
                }
                else Assert.Equal(a[i], b[i]);
            }
        }
    }

    private static IEnumerable<object?> Values(IDataView data, DataViewSchema.Column column) => column.Type.RawType switch
    {
        var t when t == typeof(Image) => data.GetColumn<Image>(column.Name),
        var t when t == typeof(string) => data.GetColumn<string>(column.Name),
        var t when t == typeof(double) => data.GetColumn<double>(column.Name).Cast<object?>(),
        var t when t == typeof(float) => data.GetColumn<float>(column.Name).Cast<object?>(),
        var t when t == typeof(int) => data.GetColumn<int>(column.Name).Cast<object?>(),
        var t when t == typeof(long) => data.GetColumn<long>(column.Name).Cast<object?>(),
        _ => data.GetColumn<float[]>(column.Name),
    };
}
