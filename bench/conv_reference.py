#!/usr/bin/python3
"""PyTorch reference timings for bench/MLNet.Rescale.Bench (run with Debian's /usr/bin/python3 + python3-torch).

Times exactly what the C# harness times, with the same warm-up / median-of-N protocol:
  * conv2d 3x3, 64->64 channels, input 1x64x256x256, padding 1, no bias, float32:
    forward alone, and forward + backward of y.sum() with input and weight requiring grad;
  * the per-call cost of a tiny op (x + 1.0 on a 1-element tensor) for context.
Prints one JSON object on stdout.
"""
import argparse
import json
import statistics
import time

import torch


def median_ms(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--tiny-calls", type=int, default=1_000_000)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 64, 256, 256, generator=g).requires_grad_()
    w = (torch.randn(64, 64, 3, 3, generator=g) * 0.05).requires_grad_()

    def forward():
        with torch.no_grad():
            torch.nn.functional.conv2d(x, w, padding=1)

    def forward_backward():
        x.grad = None
        w.grad = None
        y = torch.nn.functional.conv2d(x, w, padding=1)
        y.sum().backward()

    fwd, fwd_min = median_ms(forward, a.warmup, a.iters)
    fb, fb_min = median_ms(forward_backward, a.warmup, a.iters)

    one = torch.ones(1)
    for _ in range(10_000):
        one + 1.0
    t0 = time.perf_counter_ns()
    for _ in range(a.tiny_calls):
        one + 1.0
    tiny_ns = (time.perf_counter_ns() - t0) / a.tiny_calls

    print(json.dumps({
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "conv_forward_ms_median": fwd,
        "conv_forward_ms_min": fwd_min,
        "conv_fwd_bwd_ms_median": fb,
        "conv_fwd_bwd_ms_min": fb_min,
        "tiny_add_ns_per_op": tiny_ns,
    }))


if __name__ == "__main__":
    main()
