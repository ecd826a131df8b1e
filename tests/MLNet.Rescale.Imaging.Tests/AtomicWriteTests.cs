namespace MLNet.Rescale.Imaging.Tests;

public class AtomicWriteTests
{
    [Fact]
    public void Write_replaces_existing_file_and_leaves_no_temp_file()
    {
        using var dir = new TempDir();
        string path = dir.File("out.png");
        File.WriteAllText(path, "old contents");
        var img = new Image(5, 4, 3);
        img.Data.AsSpan().Fill(0.5f);
        ImageFile.Write(img, path);
        Assert.Equal(new[] { path }, Directory.GetFiles(dir.Path));
        Assert.Equal(ImageFormat.Png, ImageFile.DetectFormat(File.ReadAllBytes(path)));
        Assert.Equal(img.Quantized8Copy().Data, ImageFile.Read(path).Data);
    }

    [Fact]
    public void Failed_write_keeps_old_file_and_leaves_no_temp_file()
    {
        using var dir = new TempDir();
        string path = dir.File("out.jpg");
        File.WriteAllText(path, "old contents");
        // JPEG cannot hold alpha: the encoder refuses before anything touches the disk.
        Assert.Throws<ArgumentException>(() => ImageFile.Write(new Image(4, 4, 4), path));
        Assert.Equal("old contents", File.ReadAllText(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Failed_rename_deletes_the_temp_file()
    {
        using var dir = new TempDir();
        // The destination is a directory, so the final move fails after the temp file was written.
        string path = dir.File("target.png");
        Directory.CreateDirectory(path);
        Assert.ThrowsAny<IOException>(() => ImageFile.Write(new Image(4, 4, 3), path));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
