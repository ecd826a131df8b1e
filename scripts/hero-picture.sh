#!/usr/bin/env bash
# Draws docs/roundtrip-butterfly.png, the README's picture: `rescale roundtrip` of the butterfly fixture with the
# shipped ×2 model, then scripts/hero-picture.fsx lays out a crop of HR, LR, round trip and bicubic with the
# whole-image Y-PSNR the tool printed. Needs the tool built into artifacts/rescale (scripts/main-job.sh does it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
image="${1:-tests/fixtures/images/butterfly.png}"
out="${2:-docs/roundtrip-butterfly.png}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
[ -x artifacts/rescale/rescale ] || dotnet build src/MLNet.Rescale.Cli -c Release -o artifacts/rescale
artifacts/rescale/rescale roundtrip "$image" -o "$tmp" --model models/irn-x2.safetensors | tee "$tmp/table.txt"
# The table's rows: "│ IRN ×2     │       39.55 │   0.9909 │" and "│ Bicubic ×2 │ …".
net_db="$(grep -E '^│ (IRN|SAIN) ' "$tmp/table.txt" | awk -F'│' '{gsub(/ /, "", $3); print $3}')"
bic_db="$(grep -E '^│ Bicubic ' "$tmp/table.txt" | awk -F'│' '{gsub(/ /, "", $3); print $3}')"
name="$(basename "${image%.*}")"
LD_LIBRARY_PATH="$PWD/artifacts/rescale/runtimes/linux-x64/native${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  dotnet fsi scripts/hero-picture.fsx "$image" "$tmp/${name}_lr.png" "$tmp/${name}_hr.png" "$tmp/${name}_bicubic.png" \
  2 "$net_db" "$bic_db" "$out"
