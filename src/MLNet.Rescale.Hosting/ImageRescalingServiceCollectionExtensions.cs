using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MLNet.Rescale.Hosting;

/// <summary>Registers image rescaling in a service collection.</summary>
public static class ImageRescalingServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IImageRescaler"/> as a singleton <see cref="PooledImageRescaler"/> configured by
    /// <paramref name="configure"/> (at least <see cref="ImageRescalingOptions.ModelPath"/>), logging through the
    /// container's <see cref="ILogger{TCategoryName}"/> when logging is registered. The model is loaded when the
    /// rescaler is first resolved; a missing or bad file throws <see cref="ModelLoadException"/> there. The container
    /// disposes it, freeing the networks.
    /// </summary>
    /// <example><code>
    /// services.AddImageRescaling(o =&gt; { o.ModelPath = "models/irn-x2.safetensors"; o.PoolSize = 2; });
    /// // …
    /// var lr = await provider.GetRequiredService&lt;IImageRescaler&gt;().DownscaleAsync(image, ct);
    /// </code></example>
    public static IServiceCollection AddImageRescaling(this IServiceCollection services, Action<ImageRescalingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<ImageRescalingOptions>().Configure(configure);
        services.TryAddSingleton<IImageRescaler>(provider => new PooledImageRescaler(
            provider.GetRequiredService<IOptions<ImageRescalingOptions>>().Value,
            provider.GetService<ILogger<PooledImageRescaler>>()));
        return services;
    }
}
