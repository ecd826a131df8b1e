#!/usr/bin/env bash
# The test command: installs what the tests need (idempotent), builds everything, packs the packages into
# artifacts/feed (the package tests and the notebooks use them as a user would), and runs every test.
# Tests that need a whole benchmark set from ../shared/datasets skip, saying why, when it is absent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-deps.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build MLNet.Rescale.sln -c Release
# The browser upscaler's onnxruntime-web, from npm at build time (its test serves it from node_modules, never a CDN).
(cd samples/WebUpscaler && npm ci --no-audit --no-fund --ignore-scripts)
rm -rf artifacts/feed
dotnet pack MLNet.Rescale.sln -c Release -o artifacts/feed
# The packages' version is fixed between releases: drop any earlier pack of ours from the NuGet cache, so every restore
# (the notebooks', the package tests') takes this one.
rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}"/mlnet.rescale*
dotnet test MLNet.Rescale.sln -c Release --no-build --logger "console;verbosity=normal" --filter "FullyQualifiedName!~MLNet.Rescale.Packages.Tests" "$@"
# Last, alone: they clear our ids from the NuGet cache again before their restores, which must not race the notebooks'.
dotnet test tests/MLNet.Rescale.Packages.Tests -c Release --no-build --logger "console;verbosity=normal" "$@"
