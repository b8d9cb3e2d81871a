"""Wall-clock of coarse-to-fine sampling (small SiT for t < t_split, large SiT after) against the large model alone, at
equal NFE; writes JSON.

    python benchmarks/bench_coarse_to_fine.py --small micro --large tiny --device cpu    # the pipeline's pair
    python benchmarks/bench_coarse_to_fine.py --small tiny --large small --device cpu
    python benchmarks/bench_coarse_to_fine.py --small S --large XL --patch-size 2 --input-size 32 --device cuda

Speed only: the models are random-init (the cost of a forward pass does not depend on the weights); the quality side
of the trade-off comes from the pipeline's trained models. For each t_split the composite Euler sampler runs the
same number of steps (NFE) as the large model alone; the speed-up is time(large alone) / time(composite). The ideal
speed-up at t_split = s is 1 / (s * c + (1 - s)) with c = cost(small) / cost(large). Not a test: run it by hand or on a GPU.
"""
import argparse, json, platform, time
from pathlib import Path
import torch
from refine_lib.sampling import coarse_to_fine_velocity, euler, model_velocity
from refine_lib.sit import SiTSpec, build_sit, count_params


def sync(device):
    if device == "cuda": torch.cuda.synchronize()


def timed(fn, device, repeats):
    "Median wall-clock seconds of `fn()` over `repeats` runs, after one warm-up run."
    fn(); times = []
    for _ in range(repeats):
        sync(device); t0 = time.perf_counter(); fn(); sync(device); times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", default="micro"); ap.add_argument("--large", default="tiny")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--input-size", type=int, default=4); ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--patch-size", type=int, default=1); ap.add_argument("--nfe", type=int, default=50)
    ap.add_argument("--batch", type=int, default=256); ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--splits", default="0,0.3,0.5,0.7,0.9,1"); ap.add_argument("--out", default=None)
    a = ap.parse_args()
    dev = a.device
    spec = lambda size: SiTSpec(size=size, patch_size=a.patch_size, input_size=a.input_size, in_channels=a.channels)
    small, large = build_sit(spec(a.small), seed=0).to(dev).eval(), build_sit(spec(a.large), seed=1).to(dev).eval()
    x0 = torch.randn(a.batch, a.channels, a.input_size, a.input_size, generator=torch.Generator().manual_seed(0)).to(dev)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if dev == "cuda" else torch.autocast("cpu", enabled=False)
    vs, vl = model_velocity(small), model_velocity(large)
    rows, calls = [], {}
    with amp:
        t_large = timed(lambda: euler(vl, x0, a.nfe), dev, a.repeats)
        t_small = timed(lambda: euler(vs, x0, a.nfe), dev, a.repeats)
        for s in [float(x) for x in a.splits.split(",")]:
            v = coarse_to_fine_velocity(vs, vl, s)
            t = timed(lambda: euler(v, x0, a.nfe), dev, a.repeats)
            n = a.repeats + 1
            rows.append({"t_split": s, "seconds_per_sample": t / a.batch, "speedup_vs_large": t_large / t,
                         "small_calls": v.calls["small"] // n, "large_calls": v.calls["large"] // n})
    c = t_small / t_large
    for r in rows: r["ideal_speedup"] = 1 / ((r["small_calls"] * c + r["large_calls"]) / a.nfe)
    out = {"small": spec(a.small).name, "large": spec(a.large).name,
           "params_M": {"small": round(count_params(small) / 1e6, 3), "large": round(count_params(large) / 1e6, 3)},
           "device": dev, "batch": a.batch, "nfe": a.nfe, "sampler": f"euler-{a.nfe}",
           "latent_shape": [a.channels, a.input_size, a.input_size], "large_alone_seconds_per_sample": t_large / a.batch,
           "small_alone_seconds_per_sample": t_small / a.batch, "cost_ratio_small_over_large": c, "rows": rows,
           "torch": torch.__version__, "threads": torch.get_num_threads(),
           "machine": platform.processor() or platform.machine(), "gpu": torch.cuda.get_device_name() if dev == "cuda" else None}
    path = Path(a.out or f"benchmarks/results/coarse_to_fine_{a.small}_{a.large}_{dev}.json")
    path.parent.mkdir(parents=True, exist_ok=True); path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
