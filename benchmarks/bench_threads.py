"""How a stage's training step slows down when another CPU-bound process shares the machine, per thread setting.

Runs a small autoencoder-like conv training step (the encode stage's kind of work) in a fresh process per setting,
alone and beside a busy single-threaded process, and writes seconds per step to JSON:
`python benchmarks/bench_threads.py [--out benchmarks/results/threads.json] [--steps 30]`."""
import argparse, json, os, platform, subprocess, sys, time
from pathlib import Path

STEP = r"""
import time, torch, torch.nn as nn
torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.SiLU(), nn.Conv2d(32, 32, 3, padding=1), nn.SiLU(), nn.Conv2d(32, 1, 3, padding=1))
opt = torch.optim.AdamW(net.parameters(), 1e-3); x = torch.randn(64, 1, 16, 16)
def step():
    loss = (net(x) - x).pow(2).mean(); opt.zero_grad(); loss.backward(); opt.step()
for _ in range(3): step()
t0 = time.perf_counter()
for _ in range(STEPS): step()
print((time.perf_counter() - t0) / STEPS, torch.get_num_threads())
"""

SETTINGS = {"default": {}, "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
            "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000"}, "GOMP_SPINCOUNT=100000": {"GOMP_SPINCOUNT": "100000"},
            "OMP_NUM_THREADS=1": {"OMP_NUM_THREADS": "1"}, "REFINE_THREADS=1 (runner: 1 thread, passive)": {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}}

def measure(env_extra, steps, busy):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "GOMP_SPINCOUNT")} | env_extra
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        time.sleep(0.5 if busy else 0)
        out = subprocess.run([sys.executable, "-c", STEP.replace("STEPS", str(steps))], env=env, text=True, capture_output=True, check=True, timeout=1200).stdout.split()
    finally:
        if hog: hog.kill(); hog.wait()
    return {"seconds_per_step": float(out[0]), "torch_threads": int(out[1])}

def main():
    ap = argparse.ArgumentParser(); ap.add_argument("--out", default="benchmarks/results/threads.json"); ap.add_argument("--steps", type=int, default=30)
    a = ap.parse_args()
    res = {"cpus": os.cpu_count(), "machine": platform.machine(), "steps": a.steps, "results": {}}
    for name, env in SETTINGS.items():
        res["results"][name] = {"alone": measure(env, a.steps, False), "beside one busy process": measure(env, a.steps, True)}
        print(name, res["results"][name], flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=2) + "\n")

if __name__ == "__main__": main()
