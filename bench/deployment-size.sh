#!/usr/bin/env bash
# Deployment size of an application that only upscales, with each engine: a console app published for linux-x64
# (framework-dependent) from the packed packages, one on MLNet.Rescale.Onnx (ONNX Runtime, an exported upscale.onnx),
# one on MLNet.Rescale + libtorch-cpu-linux-x64 (TorchSharp, the model file). Each is run once on a test image to show it
# works. Prints a Markdown table. Needs the packages in artifacts/feed (scripts/test.sh packs them; or dotnet pack -o).
#
#   bench/deployment-size.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
feed="$repo/artifacts/feed"
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props)
[[ -f "$feed/MLNet.Rescale.Onnx.$version.nupkg" ]] || { echo "no MLNet.Rescale.Onnx $version in $feed: run dotnet pack MLNet.Rescale.sln -c Release -o artifacts/feed" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}"/mlnet.rescale*
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

app() {  # name, package references (xml), program
    mkdir -p "$work/$1"
    cat > "$work/$1/nuget.config" <<XML
<configuration><packageSources><add key="feed" value="$feed" /><add key="nuget.org" value="https://api.nuget.org/v3/index.json" /></packageSources></configuration>
XML
    cat > "$work/$1/App.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
  <ItemGroup>$2</ItemGroup>
</Project>
XML
    printf '%s\n' "$3" > "$work/$1/Program.cs"
    (cd "$work/$1" && dotnet publish -c Release -r linux-x64 --self-contained false -o out >/dev/null)
}

dotnet build src/MLNet.Rescale.Cli -c Release -o "$work/tool" >/dev/null
dotnet "$work/tool/rescale.dll" export irn-x2 --onnx "$work/graphs" >/dev/null
lr="$repo/tests/fixtures/images/butterfly_LRx2_matlab.png"

app onnx "<PackageReference Include=\"MLNet.Rescale.Onnx\" Version=\"$version\" />" '
using var r = new MLNet.Rescale.Onnx.OnnxRescaler(null, args[0]);
var hr = r.Upscale(MLNet.Rescale.Imaging.ImageFile.Read(args[1]));
Console.WriteLine($"{hr.Width}x{hr.Height}");'
app torch "<PackageReference Include=\"MLNet.Rescale\" Version=\"$version\" /><PackageReference Include=\"libtorch-cpu-linux-x64\" Version=\"2.10.0\" />" '
using var net = MLNet.Rescale.ModelFile.Load(args[0]);
var r = new MLNet.Rescale.Inference.Rescaler(net, new MLNet.Rescale.Inference.RescalerOptions { Temperature = 0 });
var hr = r.Upscale(MLNet.Rescale.Imaging.ImageFile.Read(args[1]));
Console.WriteLine($"{hr.Width}x{hr.Height}");'

onnx_out=$(dotnet "$work/onnx/out/App.dll" "$work/graphs/upscale.onnx" "$lr")
torch_out=$(dotnet "$work/torch/out/App.dll" "$repo/models/irn-x2.safetensors" "$lr")
size() { du -sb "$1" | cut -f1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
largest() { find "$1" -type f -printf '%s %f\n' | sort -rn | head -1 | awk '{ printf "%s (%.0f MiB)", $2, $1 / 1048576 }'; }
model_onnx=$(size "$work/graphs/upscale.onnx"); model_torch=$(size "$repo/models/irn-x2.safetensors")
echo "| upscaling application (linux-x64, framework-dependent) | published folder | largest file | model | ran |"
echo "|---|---:|---|---:|---|"
echo "| MLNet.Rescale.Onnx (ONNX Runtime $(ls "${NUGET_PACKAGES:-$HOME/.nuget/packages}/microsoft.ml.onnxruntime" | sort -V | tail -1)) | $(mib "$(size "$work/onnx/out")") MiB | $(largest "$work/onnx/out") | upscale.onnx $(mib "$model_onnx") MiB | $onnx_out |"
echo "| MLNet.Rescale + libtorch-cpu-linux-x64 2.10.0 (TorchSharp) | $(mib "$(size "$work/torch/out")") MiB | $(largest "$work/torch/out") | irn-x2.safetensors $(mib "$model_torch") MiB | $torch_out |"
