using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("MLNet.Rescale.Torch.Tests")]
