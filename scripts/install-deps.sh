#!/usr/bin/env bash
# Installs what the tests and benchmarks of MLNet.Rescale need on a fresh Debian/Ubuntu machine (the library itself needs
# no system package: its codecs and libtorch come from NuGet): chromium (headless, for the tests that open the HTML
#   report of rescale eval --report and the browser upscaler), nodejs and npm when npm is missing (the browser
#   upscaler installs onnxruntime-web from npm), and with --with-python-torch also python3-torch
#   (Debian's PyTorch, used only by the side-by-side benchmarks: rescale bench --compare).
# Idempotent: packages already installed are detected with dpkg-query and, when nothing is missing,
# apt is not touched at all (no apt-get update), so a second run takes a fraction of a second.
# Finally checks that the .NET 10 SDK is available (it is preinstalled on our machines).
#
#   scripts/install-deps.sh [--with-python-torch]
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
}

with_python_torch=0
for arg in "$@"; do
    case "$arg" in
        --with-python-torch) with_python_torch=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-deps.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
    esac
done

packages=(chromium)
# npm: Debian's nodejs + npm, unless a Node.js with npm is already installed (e.g. NodeSource's nodejs, which bundles npm).
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi
if (( with_python_torch )); then packages+=(python3-torch); fi

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps.sh: this script needs Debian or Ubuntu (dpkg-query and apt-get); install these by other means: ${packages[*]}" >&2
    exit 1
fi

# One dpkg-query for all packages; those it does not list as fully installed are missing.
declare -A installed=()
while read -r name status; do
    [[ "$status" == "install ok installed" ]] && installed["${name%%:*}"]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)

missing=()
for p in "${packages[@]}"; do
    [[ -n "${installed[$p]:-}" ]] || missing+=("$p")
done

if (( ${#missing[@]} == 0 )); then
    echo "install-deps.sh: all packages present (${packages[*]})"
else
    sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "install-deps.sh: need root or sudo to install: ${missing[*]}" >&2
            exit 1
        fi
        sudo=(sudo env DEBIAN_FRONTEND=noninteractive)
    fi
    echo "install-deps.sh: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -q
    # Ubuntu ships Chromium only as a snap: without an apt candidate, go on without it (its test then skips, or fails under CI=true).
    if [[ " ${missing[*]} " == *" chromium "* ]] && ! apt-cache show chromium >/dev/null 2>&1; then
        echo "install-deps.sh: no apt package 'chromium' here; install Chromium by other means (or set CHROMIUM=/path/to/chrome) for the report test" >&2
        missing=("${missing[@]/chromium}")
    fi
    "${sudo[@]}" apt-get install -y -q --no-install-recommends ${missing[@]}
fi

# The .NET SDK: preinstalled on our machines; the repository's global.json asks for 10.0.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v dotnet >/dev/null 2>&1; then
    cat >&2 <<'MSG'
install-deps.sh: the .NET 10 SDK (dotnet) was not found on PATH. Install it, for example:
    curl -sSL https://dot.net/v1/dotnet-install.sh -o /tmp/dotnet-install.sh
    bash /tmp/dotnet-install.sh --channel 10.0 && export PATH="$HOME/.dotnet:$PATH"
or follow https://learn.microsoft.com/dotnet/core/install/linux (package dotnet-sdk-10.0).
MSG
    exit 1
fi
if ! version="$(cd "$repo_root" && dotnet --version 2>/dev/null)" || [[ "${version%%.*}" -lt 10 ]]; then
    echo "install-deps.sh: 'dotnet --version' in $repo_root gave '${version:-nothing}'; this repository needs the .NET 10 SDK (see global.json): https://dotnet.microsoft.com/download/dotnet/10.0" >&2
    exit 1
fi
echo "install-deps.sh: .NET SDK $version"
