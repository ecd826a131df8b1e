namespace MLNet.Rescale.Imaging.Tests;

public class ImageTests
{
    [Fact]
    public void Interleaved_round_trip_and_planar_layout()
    {
        byte[] hwc = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]; // 2×2 RGB
        Image img = Image.FromInterleaved8(hwc, 2, 2, 3);
        Assert.Equal(new[] { 1f, 4f, 7f, 10f }.Select(v => v / 255f), img.GetChannel(0).ToArray());
        Assert.Equal(hwc, img.ToInterleaved8());
    }

    [Fact]
    public void Conversion_to_bytes_clamps_and_rounds()
    {
        var img = new Image(4, 1, 1, [-0.2f, 1.7f, 0.5f, float.NaN]);
        Assert.Equal(new byte[] { 0, 255, 128, 0 }, img.ToInterleaved8());
        img.Quantize8();
        Assert.Equal(new[] { 0f, 1f, 128 / 255f, 0f }, img.Data);
    }

    [Fact]
    public void ToRgb_replicates_gray_and_drops_alpha_explicitly()
    {
        var gray = new Image(2, 1, 1, [0.1f, 0.2f]);
        Assert.Equal(new[] { 0.1f, 0.2f, 0.1f, 0.2f, 0.1f, 0.2f }, gray.ToRgb().Data);
        var rgba = new Image(1, 1, 4, [0.1f, 0.2f, 0.3f, 0.4f]);
        Image rgb = rgba.SplitAlpha(out Image? alpha);
        Assert.Equal(new[] { 0.1f, 0.2f, 0.3f }, rgb.Data);
        Assert.Equal(new[] { 0.4f }, alpha!.Data);
        Assert.Equal(rgba.Data, Image.WithAlpha(rgb, alpha).Data);
        gray.SplitAlpha(out Image? none);
        Assert.Null(none);
    }

    [Fact]
    public void Crop_and_ModCrop()
    {
        var img = new Image(5, 7, 3);
        for (int i = 0; i < img.Data.Length; i++) img.Data[i] = i;
        Image c = img.Crop(1, 2, 3, 2);
        Assert.Equal(new float[] { 11, 12, 13, 16, 17, 18 }, c.GetChannel(0).ToArray());
        Assert.Equal(new float[] { 46, 47, 48, 51, 52, 53 }, c.GetChannel(1).ToArray());
        Image m = img.ModCrop(2);
        Assert.Equal((4, 6), (m.Width, m.Height));
        Assert.Equal(img.Crop(0, 0, 4, 6).Data, m.Data);
        Assert.Throws<ArgumentOutOfRangeException>(() => img.Crop(3, 0, 3, 1));
        Assert.Throws<ArgumentException>(() => img.ModCrop(8));
    }

    [Fact]
    public void Constructor_validates()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Image(0, 1, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Image(1, 1, 2));
        Assert.Throws<ArgumentException>(() => new Image(2, 2, 3, new float[11]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Image(2, 2, 1, new float[4], 12));
        Assert.Throws<ArgumentException>(() => Image.FromInterleaved8(new byte[5], 2, 2, 1));
    }
}
