// CdnBatch: a Generic Host service that downscales every image of a folder tree for a CDN with the IImageRescaler that
// services.AddImageRescaling and the library's ImageBatch (the engine of `rescale batch`), writes each LR atomically into an
// output folder, and exits (--watch keeps it running and downscales new or changed files as they arrive).
//   dotnet run --project samples/CdnBatch [-- --input DIR --output DIR --model FILE --format png|jpeg|webp
//                                           --quality Q --workers N --collaborative --force --watch]
// With no arguments: the repository's tests/fixtures/images, models/irn-x2.safetensors, and an output folder in the
// system temp folder.
using CdnBatch;
using MLNet.Rescale.Hosting;
using MLNet.Rescale.Imaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

BatchSettings settings;
try
{
    settings = BatchSettings.Parse(args, FindRepoRoot());
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"CdnBatch: {e.Message}");
    Console.Error.WriteLine(BatchSettings.Usage);
    return 2;
}

// Our own arguments are parsed above; the host still reads logging settings from the environment (Logging__…).
var builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
if (!settings.Watch) builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
builder.Services.AddSingleton(settings);
builder.Services.AddImageRescaling(o =>
{
    o.ModelPath = settings.Model;
    o.PoolSize = settings.Workers;
    // Split the cores between the instances that run at once rather than oversubscribing them.
    o.ThreadsPerCall = Math.Max(1, Environment.ProcessorCount / settings.Workers);
    o.Collaborative = settings.Collaborative;
    o.Encoding = new ImageWriteOptions { Quality = settings.Quality };
});
builder.Services.AddHostedService<CdnBatchService>();

using var host = builder.Build();
try
{
    await host.RunAsync();
}
catch (ModelLoadException e)
{
    Console.Error.WriteLine($"CdnBatch: {e.Message}");
    return 1;
}
return Environment.ExitCode;

static string FindRepoRoot()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "MLNet.Rescale.sln"))) return d.FullName;
    return Directory.GetCurrentDirectory();
}
