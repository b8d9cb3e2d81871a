"""Precision, recall, density and coverage: ours (`refine_lib.metrics.knn_balls`) beside the `prdc` package; writes JSON.

    pip install prdc          # the reference implementation (Naeem et al. 2020), only for this benchmark
    python benchmarks/bench_metrics.py --n 10000 --dim 64 --k 5 --out benchmarks/results/metrics_prdc.json

Both run on the same features (Gaussian, seeded), k-NN radii with the same k for all four metrics (prdc's one
`nearest_k`), each in a fresh process so that its peak resident memory is its own: `peak_mb` is the process's peak,
`increment_mb` the peak minus what the process held before the metric call (the libraries and the two feature
arrays). Values must be identical; the speed-up and memory ratio are the goal of issue 16 (at least 3x faster than
prdc, at most half its memory). Not a test.
"""
import argparse, json, platform, resource, subprocess, sys, time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np
n, dim, k, which = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
real = rng.standard_normal((n, dim)).astype(np.float32)
fake = (1.1 * rng.standard_normal((n, dim)) + 0.1).astype(np.float32)
if which == "ours":
    import torch
    from refine_lib.metrics import knn_balls
    run = lambda: knn_balls(torch.from_numpy(real), torch.from_numpy(fake), k, k).metrics()
else:
    from prdc import compute_prdc
    run = lambda: {key: float(v) for key, v in compute_prdc(real, fake, nearest_k=k).items()}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter(); values = run(); seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"values": values, "seconds": round(seconds, 2), "peak_mb": round(peak), "increment_mb": round(peak - before)}))
"""


def measure(which, n, dim, k):
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(dim), str(k), which], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000); ap.add_argument("--dim", type=int, default=64); ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/metrics_prdc.json")
    a = ap.parse_args()
    runs = {w: [measure(w, a.n, a.dim, a.k) for _ in range(a.repeats)] for w in ("ours", "prdc")}
    best = {w: min(r, key=lambda x: x["seconds"]) for w, r in runs.items()}
    ours, ref = best["ours"], best["prdc"]
    result = {"n": a.n, "dim": a.dim, "k": a.k, "repeats": a.repeats, "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
              "ours": ours, "prdc": ref, "all_runs": runs,
              "identical_values": all(ours["values"][m] == ref["values"][m] for m in ref["values"]),
              "max_abs_difference": max(abs(ours["values"][m] - ref["values"][m]) for m in ref["values"]),
              "speedup": round(ref["seconds"] / ours["seconds"], 2),
              "memory_ratio_increment": round(ours["increment_mb"] / ref["increment_mb"], 2),
              "memory_ratio_peak": round(ours["peak_mb"] / ref["peak_mb"], 2)}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "all_runs"}, indent=2))
