"""Training throughput of the project's loop (`refine_lib.training.train_flow`) on 1 and N processes; writes JSON.

    python benchmarks/bench_processes.py --size tiny --processes 1 2 --out benchmarks/results/processes_cpu.json
    python benchmarks/bench_processes.py --size B --input-size 32 --batch-size 256 --processes 1 2 4 8   # on a GPU machine

Each run trains the same SiT on random latents through `train_flow` with `LoopConfig.processes = N` (N GPUs when there
are, else N CPU processes over gloo, started by accelerate's notebook launcher exactly as a stage does), `batch_size`
per process. Reported: seconds of the run (launch included), steps/s and samples/s (global: N x batch per step).
Not a test: run it by hand or on a GPU machine.
"""
import argparse, json, platform, tempfile, time
from pathlib import Path
import torch
from refine_lib.paths import LinearPath
from refine_lib.sit import SiTSpec, build_sit, count_params
from refine_lib.training import LoopConfig, train_flow


def bench(size, processes, steps, batch_size, input_size, channels):
    spec = SiTSpec(size=size, input_size=input_size, in_channels=channels)
    lat = torch.randn(4096, channels, input_size, input_size, generator=torch.Generator().manual_seed(0))
    cfg = LoopConfig(steps=steps, batch_size=batch_size, lr=1e-4, warmup_steps=10, checkpoint_every=steps, log_every=steps, processes=processes)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        train_flow(build_sit(spec, seed=0), lat, LinearPath(), cfg, d, progress=False)
        seconds = time.perf_counter() - t0
    return {"processes": processes, "seconds": round(seconds, 2), "steps_per_s": round(steps / seconds, 2),
            "samples_per_s": round(steps * batch_size * processes / seconds, 1), "params": count_params(build_sit(spec))}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="tiny"); ap.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=200); ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--input-size", type=int, default=4); ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--out", default="benchmarks/results/processes_cpu.json")
    a = ap.parse_args()
    runs = [bench(a.size, n, a.steps, a.batch_size, a.input_size, a.channels) for n in a.processes]
    base = runs[0]["samples_per_s"]
    for r in runs: r["speedup_samples_per_s"] = round(r["samples_per_s"] / base, 2)
    result = {"size": a.size, "steps": a.steps, "batch_size_per_process": a.batch_size, "latent": [a.channels, a.input_size, a.input_size],
              "device": torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()})",
              "torch": torch.__version__, "runs": runs}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
