#!/usr/bin/env bash
# Runs the notebooks in the real .NET Interactive C# kernel (Jupyter's nbconvert --execute), as a user's Jupyter would,
# instead of the Roslyn-scripting runner of tests/MLNet.Rescale.Notebooks.Tests. Not part of CI: it installs a Jupyter
# (Debian packages) and the dotnet-interactive tool, and each notebook starts a kernel (tens of seconds).
#
#   scripts/notebooks-kernel.sh [--config Debug|Release] [--full] [NAME.ipynb ...]
#
# The notebooks take the packages from NuGet; this packs them (CONFIG) into artifacts/feed and gives the kernel's restores
# that folder as a source (RestoreAdditionalProjectSources). A copy of each notebook is executed in
# artifacts/notebooks-kernel/ (inside the checkout, so the notebooks find the repository root), with
# MLNET_RESCALE_NOTEBOOK_BUDGET=small unless --full. The executed copies (NAME.out.ipynb)
# and logs stay there. Exit status: the number of notebooks that failed (a cell raised or did not compile).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

config=Release
budget=small
notebooks=()
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --full) budget=; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) notebooks+=("$1"); shift ;;
  esac
done
[ ${#notebooks[@]} -gt 0 ] || notebooks=($(cd notebooks && ls *.ipynb))

dotnet pack MLNet.Rescale.sln -c "$config" -o artifacts/feed > /dev/null
export RestoreAdditionalProjectSources="$root/artifacts/feed"

# Jupyter from Debian (nbconvert executes notebooks through nbclient and jupyter_client).
if ! command -v jupyter-nbconvert > /dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends jupyter-nbconvert jupyter-client python3-nbclient > /dev/null
fi

# The kernel: the dotnet-interactive tool in a private folder, its kernel specs in a private Jupyter data folder.
work="$root/artifacts/notebooks-kernel"
tools="$work/tools"
export JUPYTER_DATA_DIR="$work/jupyter"
export PATH="$tools:$PATH"
mkdir -p "$work"
if [ ! -x "$tools/dotnet-interactive" ]; then
  dotnet tool install Microsoft.dotnet-interactive --version 1.0.712001 --tool-path "$tools" > "$work/tool-install.log"
fi
if [ ! -f "$JUPYTER_DATA_DIR/kernels/.net-csharp/kernel.json" ]; then
  dotnet-interactive jupyter install > "$work/kernel-install.log" 2>&1
fi

export MLNET_RESCALE_NOTEBOOK_BUDGET=$budget
export PYDEVD_DISABLE_FILE_VALIDATION=1
failed=0
for name in "${notebooks[@]}"; do
  name=$(basename "$name" .ipynb)
  # One folder deeper than notebooks/, and the configuration that was built.
  cp "notebooks/$name.ipynb" "$work/$name.ipynb"
  start=$(date +%s)
  if (cd "$work" && jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1800 \
        --output "$name.out.ipynb" "$name.ipynb" > "$name.log" 2>&1); then
    echo "$name: ran in the kernel in $(( $(date +%s) - start )) s -> $work/$name.out.ipynb"
  else
    echo "$name: FAILED after $(( $(date +%s) - start )) s; see $work/$name.log" >&2
    grep -A3 -E "^Error:|error CS|Exception" "$work/$name.log" | head -20 >&2 || true
    failed=$((failed + 1))
  fi
done
exit $failed
