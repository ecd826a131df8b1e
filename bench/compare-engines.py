#!/usr/bin/python3
"""Side-by-side timing of engines on the very same network: PyTorch (../shared/bench/torch_reference.py) and any
number of `rescale` builds (e.g. the TorchSharp engine and the former libtorch-1.13 binding built from an older
commit), each run in its own process, in alternating rounds, reporting each contender's median per measure.

  /usr/bin/python3 bench/compare-engines.py --model irn --scale 4 --size 512 --rounds 5 \\
      --engine torchsharp=artifacts/rescale/rescale --engine binding=/path/to/old/rescale [--train-batch 4 --train-patch 128]

Never run it beside anything else that uses the CPU. Prints a Markdown table and writes the raw runs as JSON (--out).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
p = argparse.ArgumentParser()
p.add_argument("--model", choices=["irn", "sain"], default="irn")
p.add_argument("--scale", type=int, default=4)
p.add_argument("--size", type=int, default=512)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--repeat", type=int, default=3)
p.add_argument("--rounds", type=int, default=5)
p.add_argument("--train-batch", type=int, default=0)
p.add_argument("--train-patch", type=int, default=128)
p.add_argument("--engine", action="append", default=[], help="NAME=PATH of a rescale executable; repeatable")
p.add_argument("--reference", default=os.path.join(here, "..", "..", "shared", "bench", "torch_reference.py"))
p.add_argument("--out", default=None, help="write every run as JSON here")
a = p.parse_args()

engines = [e.split("=", 1) for e in a.engine]
if not engines or any(len(e) != 2 for e in engines):
    sys.exit("give at least one --engine NAME=PATH")
common = ["--model", a.model, "--scale", str(a.scale), "--size", str(a.size), "--threads", str(a.threads),
          "--repeat", str(a.repeat), "--train-batch", str(a.train_batch), "--train-patch", str(a.train_patch)]
weights = os.path.join(tempfile.mkdtemp(prefix="compare-engines-"), "weights.safetensors")


def run(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out[out.index("{"):])


runs = {"pytorch": []} | {name: [] for name, _ in engines}
for r in range(a.rounds):
    # PyTorch first in round 0 also writes the weights every contender then loads.
    extra = ["--save-weights", weights] if r == 0 else []
    runs["pytorch"].append(run(["/usr/bin/python3", a.reference, *common, *extra]))
    for name, path in engines:
        runs[name].append(run([path, "bench", *common, "--weights", weights, "--json"]))
    print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)

measures = [("forward_s", f"forward {a.size}²"), ("inverse_s", f"inverse {a.size}²")]
if a.train_batch > 0:
    measures.append(("train_step_s", f"training step, batch {a.train_batch} × {a.train_patch}²"))
measures.append(("peak_rss_mib", "peak RSS (MiB)"))
names = list(runs)
print(f"\n{a.model.upper()} ×{a.scale}, {a.threads} threads, median of {a.rounds} alternating rounds (each run: median of {a.repeat})\n")
print("| measure | " + " | ".join(names) + " | " + " | ".join(f"{n} / {m}" for n in names[1:] for m in names if m != n) + " |")
print("|---" * (1 + len(names) + (len(names) - 1) * (len(names) - 1)) + "|")
for key, label in measures:
    med = {n: statistics.median(run[key] for run in runs[n]) for n in names}
    ratios = [f"{med[n] / med[m]:.2f}×" for n in names[1:] for m in names if m != n]
    unit = "" if key == "peak_rss_mib" else " s"
    print(f"| {label} | " + " | ".join(f"{med[n]:.3f}{unit}" for n in names) + " | " + " | ".join(ratios) + " |")
for key, label in measures:
    print(f"\n{label} per run: " + "; ".join(f"{n} " + ", ".join(f"{run[key]:.3f}" for run in runs[n]) for n in names))
if a.out:
    with open(a.out, "w") as f:
        json.dump({"settings": vars(a), "runs": runs}, f, indent=1)
