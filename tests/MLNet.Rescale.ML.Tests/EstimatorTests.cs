using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace MLNet.Rescale.ML.Tests;

/// <summary>
/// ML.NET's <c>TestEstimatorCore</c> habit: every estimator goes through one helper that checks schema propagation
/// (the shape reported before fitting agrees with the schema after), fits, transforms, saves with
/// <c>mlContext.Model.Save</c>, loads in a fresh <see cref="MLContext"/>, and compares the loaded transformer's outputs
/// with the original's value by value; and that a wrong input is refused before and at fitting, naming the column.
/// </summary>
public static class EstimatorChecks
{
    public static TTransformer TestEstimatorCore<TTransformer>(IEstimator<TTransformer> estimator, IDataView validFitInput,
        string modelPath, IDataView? validTransformInput = null, IDataView? invalidInput = null, string? invalidColumn = null)
        where TTransformer : class, ITransformer
    {
        var transformInput = validTransformInput ?? validFitInput;

        // Schema propagation: what the estimator promises before fitting is what the fitted transformer produces. A size
        // the shape cannot know yet (an upscaler's scale comes from its network) may be left open.
        var shape = estimator.GetOutputSchema(validFitInput.Schema.Shape());
        var transformer = estimator.Fit(validFitInput);
        var schema = transformer.GetOutputSchema(transformInput.Schema);
        foreach (var column in shape)
        {
            var actual = schema[column.Name];
            Assert.Equal(SchemaShape.Column.VectorKind.Scalar, column.Kind);
            if (column.ItemType is ImageDataViewType { Width: 0, Height: 0 }) Assert.IsType<ImageDataViewType>(actual.Type);
            else Assert.Equal(column.ItemType, actual.Type);
            Assert.Equal((column.Annotations ?? new SchemaShape([])).Select(a => a.Name).Order(), actual.Annotations.Schema.Select(a => a.Name).Order());
        }
        Assert.Equal(shape.Select(c => c.Name).Order(), schema.Where(c => !c.IsHidden).Select(c => c.Name).Order());

        var output = transformer.Transform(transformInput);
        Assert.Equal(schema.Select(c => (c.Name, c.Type)), output.Schema.Select(c => (c.Name, c.Type)));
        Assert.True(transformer.IsRowToRowMapper);

        // Save, load in a fresh context, and compare every visible column of every row.
        var ml = new MLContext(seed: 0);
        ml.Model.Save(transformer, transformInput.Schema, modelPath);
        var loaded = new MLContext().Model.Load(modelPath, out var savedSchema);
        Assert.Equal(transformInput.Schema.Where(c => IsSavable(c.Type)).Select(c => c.Name), savedSchema.Select(c => c.Name));
        AssertSameRows(output, loaded.Transform(transformInput));
        (loaded as IDisposable)?.Dispose();

        if (invalidInput is not null)
        {
            var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(invalidInput.Schema.Shape()));
            var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(invalidInput));
            if (invalidColumn is not null)
            {
                Assert.Contains($"'{invalidColumn}'", e1.Message);
                Assert.Contains($"'{invalidColumn}'", e2.Message);
            }
        }
        return transformer;
    }

    private static bool IsSavable(DataViewType type) => type is TextDataViewType or NumberDataViewType or BooleanDataViewType;

    /// <summary>Both views hold the same visible columns and, row by row, equal values (images pixel for pixel).</summary>
    public static void AssertSameRows(IDataView expected, IDataView actual)
    {
        var columns = expected.Schema.Where(c => !c.IsHidden).ToList();
        Assert.Equal(columns.Select(c => (c.Name, c.Type)), actual.Schema.Where(c => !c.IsHidden).Select(c => (c.Name, c.Type)));
        foreach (var column in columns)
        {
            if (column.Type is ImageDataViewType)
            {
                var a = expected.ReadImages(column.Name);
                var b = actual.ReadImages(column.Name);
                Assert.Equal(a.Count, b.Count);
                for (int i = 0; i < a.Count; i++)
                {
                    Assert.Equal((a[i].Width, a[i].Height, a[i].Channels), (b[i].Width, b[i].Height, b[i].Channels));
                    Assert.True(a[i].Data.AsSpan().SequenceEqual(b[i].Data), $"column '{column.Name}' row {i}: images differ");
                }
            }
            else if (column.Type is TextDataViewType) Assert.Equal(expected.ReadText(column.Name), actual.ReadText(column.Name));
        }
    }
}
