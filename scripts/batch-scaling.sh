#!/usr/bin/env bash
# Throughput and memory of `rescale batch` on this machine, two ways of spending 2 cores:
#   A  1 worker process, 2 libtorch threads        rescale batch IN OUT --threads 2
#   B  2 worker processes at once, 1 thread each   rescale batch IN OUT --shard 0/2 --threads 1  &  --shard 1/2 ...
#   C  1 process, 2 images at once, 1 thread each  rescale batch IN OUT --workers 2 --threads 1
# Each downscales the same COUNT images into a fresh folder; prints wall time, images/min, HR megapixels/s and the
# peak resident memory of each worker process (/usr/bin/time -v). Run it on a quiet machine: it measures time.
#
#   scripts/batch-scaling.sh [IMAGES_DIR] [COUNT]
#
# IMAGES_DIR (default ../shared/datasets/Wiki40, photos of about 1 MP) is read, never changed: its images are copied,
# cycling, as COUNT (default 200) distinct files into WORK (default $TMPDIR/rescale-batch-scaling), outside the
# repository. MODEL (default irn-x2), FORMAT (default: each input's own), RESCALE (a built tool, default: build
# src/MLNet.Rescale.Cli into artifacts/rescale) and CONFIGS (default "A B C") adjust it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
images="${1:-../shared/datasets/Wiki40}"
count="${2:-200}"
work="${WORK:-${TMPDIR:-/tmp}/rescale-batch-scaling}"
model="${MODEL:-irn-x2}"
configs="${CONFIGS:-A B C}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 NO_COLOR=1

[[ -x /usr/bin/time ]] || { echo "batch-scaling: needs /usr/bin/time (Debian package 'time') for peak memory" >&2; exit 1; }
[[ -d "$images" ]] || { echo "batch-scaling: $images: no such folder (give a folder of images)" >&2; exit 1; }
if [[ -z "${RESCALE:-}" ]]; then
  dotnet build src/MLNet.Rescale.Cli -c Release -o artifacts/rescale > "$work.build.log" 2>&1 \
    || { cat "$work.build.log" >&2; exit 1; }
  RESCALE=artifacts/rescale/rescale
fi

# The inputs: COUNT files cycling over the folder's images (copies keep the time stamps of now, so none is skipped).
mapfile -t sources < <(find "$images" -maxdepth 1 -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.webp' -o -iname '*.bmp' \) | sort)
(( ${#sources[@]} > 0 )) || { echo "batch-scaling: no images in $images" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work/in"
for ((i = 0; i < count; i++)); do
  src="${sources[i % ${#sources[@]}]}"
  cp "$src" "$work/in/$(printf '%04d' "$i")_$(basename "$src")"
done
cat "$work"/in/* > /dev/null   # into the page cache, so the first configuration does not pay for the disk
echo "$count images from $images in $work/in; model $model; tool $RESCALE; $(nproc) cores"

now() { date +%s.%N; }
# HR megapixels written, from the reports.
megapixels() { cat "$@" | grep '"status":"written"' | grep -o '"width":[0-9]*,"height":[0-9]*' | awk -F'[:,]' '{ s += $2 * $4 } END { printf "%.3f", s / 1e6 }'; }
written() { cat "$@" | grep -c '"status":"written"' || true; }
peak_mib() { awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$1"; }
format_args=()
[[ -n "${FORMAT:-}" ]] && format_args=(--format "$FORMAT")

# run NAME THREADS WORKERS SHARD_COUNT: SHARD_COUNT processes at once, one shard each.
run() {
  local name=$1 threads=$2 workers=$3 shards=$4 pids=() start end i
  rm -rf "$work/out-$name" "$work/$name".*
  start=$(now)
  for ((i = 0; i < shards; i++)); do
    /usr/bin/time -v -o "$work/$name.$i.time" "$RESCALE" batch "$work/in" "$work/out-$name" --model "$model" "${format_args[@]}" \
      --threads "$threads" --workers "$workers" --shard "$i/$shards" --report "$work/$name.$i.jsonl" > "$work/$name.$i.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "batch-scaling: $name shard $i failed:" >&2; cat "$work/$name.$i.log" >&2; exit 1; }
  done
  end=$(now)
  local n mp seconds rss=()
  n=$(written "$work/$name".*.jsonl)
  [[ "$n" == "$count" ]] || { echo "batch-scaling: $name wrote $n of $count images" >&2; exit 1; }
  mp=$(megapixels "$work/$name".*.jsonl)
  seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
  for ((i = 0; i < shards; i++)); do rss+=("$(peak_mib "$work/$name.$i.time")"); done
  printf '%-4s %-34s %8.1f %11.1f %8.3f   %s\n' "$name" "$shards process(es) × $workers image(s) × $threads thread(s)" "$seconds" \
    "$(awk -v n="$n" -v s="$seconds" 'BEGIN { print n / s * 60 }')" "$(awk -v m="$mp" -v s="$seconds" 'BEGIN { print m / s }')" "${rss[*]}"
}

printf '%-4s %-34s %8s %11s %8s   %s\n' "" "configuration" "wall s" "images/min" "MP/s" "peak RSS per process (MiB)"
for c in $configs; do
  case "$c" in
    A) run A 2 1 1 ;;
    B) run B 1 1 2 ;;
    C) run C 1 2 1 ;;
    *) echo "batch-scaling: unknown configuration '$c' (A, B or C)" >&2; exit 2 ;;
  esac
done
echo "logs, reports and /usr/bin/time outputs: $work"
