"""Training throughput and sampling cost of a named SiT size; writes JSON.

    python benchmarks/bench_sit.py --size tiny --device cpu --out benchmarks/results/sit_tiny_cpu.json
    python benchmarks/bench_sit.py --size B --device cuda --batch-size 256 --input-size 32

Measures, after warm-up: training steps/s and samples/s (forward + backward + AdamW step, bf16 autocast on CUDA),
peak memory (CUDA: max allocated; CPU: the process's peak resident set), and sampling seconds per sample with Euler
at a given NFE. Not a test: run it by hand or on a GPU machine.
"""
import argparse, json, platform, resource, time
from pathlib import Path
import torch
from refine_lib.paths import LinearPath
from refine_lib.sampling import generate
from refine_lib.sit import SiTSpec, build_sit, count_params


def sync(device):
    if device == "cuda": torch.cuda.synchronize()


def bench(size, device, batch_size, input_size, channels, patch, steps, warmup, nfe, n_samples):
    spec = SiTSpec(size=size, patch_size=patch, input_size=input_size, in_channels=channels)
    model = build_sit(spec).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    path = LinearPath()
    x1 = torch.randn(batch_size, channels, input_size, input_size, device=device)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else torch.autocast("cpu", enabled=False)
    if device == "cuda": torch.cuda.reset_peak_memory_stats()
    for i in range(warmup + steps):
        if i == warmup: sync(device); t0 = time.perf_counter()
        t = torch.rand(batch_size, device=device)
        s = path.sample(torch.randn_like(x1), x1, t)
        with amp: v = model(s.x_t, t)
        loss = path.loss(v.float(), s).mean()
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    sync(device); train_s = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    generate(model, min(n_samples, 16), (channels, input_size, input_size), steps=2, batch_size=n_samples)   # warm-up
    sync(device); t0 = time.perf_counter()
    res = generate(model, n_samples, (channels, input_size, input_size), steps=nfe, batch_size=n_samples)
    sync(device); sample_s = time.perf_counter() - t0
    return {"model": spec.name, "params_M": round(count_params(model) / 1e6, 3), "device": device, "batch_size": batch_size,
            "latent_shape": [channels, input_size, input_size], "train_steps_per_s": round(steps / train_s, 3),
            "train_samples_per_s": round(steps * batch_size / train_s, 1), "peak_memory_MiB": round(peak, 1),
            "peak_memory_kind": "cuda max_memory_allocated" if device == "cuda" else "process peak RSS",
            "sampler": res.method, "nfe": res.nfe, "sample_batch": n_samples, "sampling_s_per_sample": sample_s / n_samples}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="tiny"); ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch-size", type=int, default=128); ap.add_argument("--input-size", type=int, default=8)
    ap.add_argument("--channels", type=int, default=4); ap.add_argument("--patch-size", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30); ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--nfe", type=int, default=50); ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    r = bench(a.size, a.device, a.batch_size, a.input_size, a.channels, a.patch_size, a.steps, a.warmup, a.nfe, a.samples)
    r |= {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
          "gpu": torch.cuda.get_device_name() if a.device == "cuda" else None}
    out = Path(a.out or f"benchmarks/results/sit_{a.size}_{a.device}.json")
    out.parent.mkdir(parents=True, exist_ok=True); out.write_text(json.dumps(r, indent=2) + "\n")
    print(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
