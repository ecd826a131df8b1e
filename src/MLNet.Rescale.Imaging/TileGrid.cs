namespace MLNet.Rescale.Imaging;

/// <summary>
/// One tile of an LR grid: the core <c>[X0, X1) × [Y0, Y1)</c> whose result is kept, and the extended region
/// (<see cref="ContextX"/>, <see cref="ContextY"/>, <see cref="ContextWidth"/> × <see cref="ContextHeight"/>) that
/// is computed: the core with the overlap of context on every side, clipped to the grid.
/// </summary>
public readonly record struct Tile(int X0, int Y0, int X1, int Y1, int ContextX, int ContextY, int ContextWidth, int ContextHeight);

/// <summary>
/// How large images are processed tile by tile so memory stays bounded: the LR grid is cut into
/// <c>tileSize</c>-pixel squares, each computed with <c>overlap</c> pixels of context on every side of which only the
/// centre is kept. The libtorch <c>Rescaler</c> and the ONNX Runtime one cut images the same way.
/// </summary>
public static class TileGrid
{
    /// <summary>The tiles of a <paramref name="width"/>×<paramref name="height"/> LR grid, row by row (one tile when <paramref name="tileSize"/> is 0).</summary>
    public static IEnumerable<Tile> Tiles(int width, int height, int tileSize, int overlap)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"an LR grid must be at least 1×1, got {width}×{height}");
        if (tileSize < 0 || overlap < 0) throw new ArgumentException($"tile size and overlap must be ≥ 0, got {tileSize} and {overlap}");
        int tile = tileSize > 0 ? tileSize : Math.Max(width, height);
        for (int y0 = 0; y0 < height; y0 += tile)
        for (int x0 = 0; x0 < width; x0 += tile)
        {
            int y1 = Math.Min(height, y0 + tile), x1 = Math.Min(width, x0 + tile);
            int ey0 = Math.Max(0, y0 - overlap), ex0 = Math.Max(0, x0 - overlap);
            yield return new Tile(x0, y0, x1, y1, ex0, ey0, Math.Min(width, x1 + overlap) - ex0, Math.Min(height, y1 + overlap) - ey0);
        }
    }

    /// <summary>How many tiles a <paramref name="width"/>×<paramref name="height"/> LR grid runs as.</summary>
    public static int Count(int width, int height, int tileSize)
    {
        int tile = tileSize > 0 ? tileSize : Math.Max(width, height);
        return (width + tile - 1) / tile * ((height + tile - 1) / tile);
    }
}
