#!/usr/bin/env bash
# The main job: installs the system dependencies (idempotent), builds the `rescale` tool and round-trips a
# real image with the shipped default model: downscale ×2, upscale back, and a PSNR/SSIM table against
# bicubic. Arguments override the image and output folder:  scripts/main-job.sh [IMAGE] [OUT_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
image="${1:-tests/fixtures/images/butterfly.png}"
out="${2:-out/roundtrip}"
model="${MODEL:-models/irn-x2.safetensors}"
scripts/install-deps.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/MLNet.Rescale.Cli -c Release -o artifacts/rescale
artifacts/rescale/rescale roundtrip "$image" -o "$out" --model "$model"
