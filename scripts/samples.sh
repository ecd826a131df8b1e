#!/usr/bin/env bash
# Builds and runs every sample with no arguments (each must finish on its own within 5 minutes).
# Expects the system dependencies of scripts/install-deps.sh (the test command installs them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
for project in samples/*/*.csproj; do
  name=$(basename "$project" .csproj)
  echo "== sample $name"
  dotnet build "$project" -c Release
  timeout 300 dotnet run -c Release --no-build --project "$project"
done
