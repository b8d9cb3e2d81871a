"""LIRF's admission threshold tau, calibrated on the few-shot baseline's own candidates; writes JSON.

    python benchmarks/bench_lirf_tau.py --out benchmarks/results/lirf_tau.json

Runs the `refine-lirf` stage's LIRF loop exactly as params.yaml sets it (few-shot subset, SiT size, steps, rounds,
candidates, lambda schedule, the semantic stage's latents) but with tau = 0, so that nothing is admitted and every
round's candidates come from the plain baseline's trajectory; logs each round's distribution of the correction
||z - C(z)|| and of ||z - C(z)|| / lambda (the candidate's distance to the bank's manifold, to first order). The
correction shrinks with lambda, so an absolute tau admits nothing in the early rounds and everything in the late ones;
the default rule (`lirf.admission: per-lambda`) admits ||z - C(z)|| <= lambda tau, with tau = the median of
||z - C(z)|| / lambda in the middle round: about half of the baseline's candidates there, and in each round the share
whose distance falls below it.
Needs `make repro`'s encode and semantic outputs. Not a test.
"""
import argparse, json, tempfile, time
from pathlib import Path
import torch
from pipeline_outputs import load_pipeline_outputs
from refine_lib import data as D, lirf as L
from refine_lib.geometry import to_flow_space
from refine_lib.paths import get_path
from refine_lib.sit import SiTSpec, build_sit
from refine_lib.training import LoopConfig

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--latents", default="semantic", choices=("plain", "semantic"))
    ap.add_argument("--out", default="benchmarks/results/lirf_tau.json")
    a = ap.parse_args()
    p, ds, ref, ae, z, labels, stats = load_pipeline_outputs()
    r = p.lirf
    if a.latents == "semantic": z, _, stats = D.load_latents("outputs/semantic/latents_train.safetensors")
    idx = D.few_shot_indices(labels, r.few_shot, seed=p.seed, total=len(z))
    zn = to_flow_space(z, stats, "vanilla")[idx]
    spec = SiTSpec(size=r.model, patch_size=1, input_size=z.shape[-1], in_channels=z.shape[1])
    schedule = L.LIRFSchedule(**{k: getattr(r, k) for k in L.LIRFSchedule.__dataclass_fields__} | {"tau": 0.0, "admission": "absolute"})
    loop = LoopConfig(steps=r.steps, batch_size=r.batch_size, lr=r.lr, warmup_steps=r.warmup_steps, ema_decay=r.ema_decay,
                      grad_clip=r.grad_clip, checkpoint_every=r.interval, log_every=50)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as ckpt:
        res = L.train_with_lirf(build_sit(spec, seed=p.seed), zn, get_path("linear"), loop, ckpt, schedule, seed=p.seed, progress=False)
    keys = ("round", "step", "lambda", "mean_correction", "median_correction", "correction_per_lambda_p10", "correction_per_lambda_p50", "correction_per_lambda_p90")
    rounds = [{k: x[k] for k in keys} for x in res["rounds"]]
    middle = rounds[len(rounds) // 2]
    result = {"latents": a.latents, "few_shot": len(idx), "model": spec.name, "steps": r.steps, "interval": r.interval, "candidates": r.candidates,
              "lambda": [r.lambda_start, r.lambda_end], "rounds": rounds, "tau_rule": "median of ||z - C(z)|| / lambda in the middle round (tau = 0 run), admission per-lambda",
              "calibrated_tau": round(middle["correction_per_lambda_p50"], 2), "absolute_tau_of_that_round": round(middle["median_correction"], 2), "seconds": round(time.time() - t0, 1)}
    print(json.dumps(result, indent=1))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
