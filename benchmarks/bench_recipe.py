"""The training recipe of the flow models, found by measurement: FID against steps and seconds; writes JSON.

    python benchmarks/bench_recipe.py --out benchmarks/results/recipe_sweep.json            # every recipe below
    python benchmarks/bench_recipe.py --only tiny-p2-b128-lr2e-3 --steps 6000 --every 1000  # one of them

Each recipe trains the `vanilla-linear` row's flow model (linear path, vanilla latents of the encode stage) through
the project's loop (`train_flow`: warm-up, EMA with warm-up, clipping) from the same init seed, one run continued
from its checkpoints; every `--every` steps the EMA model draws `--draws` x 359 samples (Euler-50, as `sample@`),
decoded by the encode stage's decoder and scored by the features stage's extractor against the test split, like every
row of the pipeline. The FID of a checkpoint is the mean over the draws (one draw's FID moves by ~10 at 359 samples:
benchmarks/results/sample_noise.json). Seconds are training seconds on this machine (scoring excluded).
Needs `make repro`'s encode and features outputs. Not a test.
"""
import argparse, json, statistics, tempfile, time
from pathlib import Path
import torch
from pipeline_outputs import load_pipeline_outputs
from refine_lib import evaluation as E
from refine_lib.geometry import to_flow_space
from refine_lib.paths import get_path
from refine_lib.sit import SiTSpec, build_sit, count_params
from refine_lib.training import LoopConfig, train_flow

#: name: (SiT size, patch, batch, lr, schedule, timesteps)
RECIPES = {
    "tiny-p1-b64-lr1e-3":        ("tiny", 1, 64, 1e-3, "constant", "uniform"),      # the default before this sweep
    "tiny-p2-b128-lr1e-3":       ("tiny", 2, 128, 1e-3, "constant", "uniform"),
    "tiny-p2-b128-lr2e-3":       ("tiny", 2, 128, 2e-3, "constant", "uniform"),
    "tiny-p2-b128-lr2e-3-logit": ("tiny", 2, 128, 2e-3, "constant", "logit-normal"),
    "tiny-p1-b64-lr2e-3":        ("tiny", 1, 64, 2e-3, "constant", "uniform"),
    "small-p2-b128-lr1e-3":      ("small", 2, 128, 1e-3, "constant", "uniform"),
    "tiny-p2-b64-lr2e-3-logit":  ("tiny", 2, 64, 2e-3, "constant", "logit-normal"),
    "micro-p2-b128-lr2e-3-logit": ("micro", 2, 128, 2e-3, "constant", "logit-normal"),
    "tiny-p2-b128-lr4e-3-logit": ("tiny", 2, 128, 4e-3, "constant", "logit-normal"),
    # the small coarse-to-fine model: does a larger learning rate bring its plateau within 16000 steps?
    "micro-p2-b128-lr4e-3-logit": ("micro", 2, 128, 4e-3, "constant", "logit-normal"),
    "micro-p2-b128-lr8e-3-logit": ("micro", 2, 128, 8e-3, "constant", "logit-normal"),
    "micro-p2-b256-lr4e-3-logit": ("micro", 2, 256, 4e-3, "constant", "logit-normal"),   # 1.45x the cost of a step at 128
    # the README's GPU preset (SiT-B, batch 256, lr 1e-4) on the pipeline's latents: does a 100x larger model beat tiny?
    "B-p2-b256-lr1e-4-logit":    ("B", 2, 256, 1e-4, "constant", "logit-normal"),
}

def run(name, p, ref, ae, zn, stats, steps, every, draws, seed, samples=359, device="cpu", on_point=None):
    size, patch, bs, lr, schedule, timesteps = RECIPES[name]
    spec = SiTSpec(size=size, patch_size=patch, input_size=zn.shape[-1], in_channels=zn.shape[1])
    info = {"spec": vars(spec) | {"num_classes": 0}, "path": "linear", "geometry": "vanilla"}
    model, curve, train_s = build_sit(spec, seed=seed), [], 0.0
    loop = LoopConfig(steps=steps, batch_size=bs, lr=lr, warmup_steps=100, schedule=schedule, ema_decay=0.999,
                      grad_clip=1.0, checkpoint_every=every, log_every=50)
    with tempfile.TemporaryDirectory() as ckpt:
        for end in range(every, steps + 1, every):   # one run, continued: each segment resumes from the last checkpoint
            res = train_flow(model, zn, get_path("linear"), loop, ckpt, seed=seed, stop_after=end, progress=False, timesteps=timesteps)
            train_s += res["seconds"]
            ema = res["ema"].to(device)   # training picks CUDA itself (accelerate); sampling runs where the model is
            fids = [E.score_samples(E.decode_samples(ae, E.draw_samples(ema, info, p.sample, samples, seed=seed + 1000 * d).x.cpu(), stats, "vanilla"),
                                    ref, p.score, memorization=False)["fid"] for d in range(draws)]
            curve.append({"step": end, "train_seconds": round(train_s, 1), "fid": statistics.mean(fids),
                          "fid_sd_draws": statistics.stdev(fids) if draws > 1 else None, "fids": fids})
            print(name, curve[-1]["step"], round(curve[-1]["fid"], 1), f"{train_s:.0f}s", flush=True)
            if on_point: on_point(curve)
    return {"model": spec.name, "params_M": round(count_params(model) / 1e6, 3), "batch_size": bs, "lr": lr, "schedule": schedule,
            "timesteps": timesteps, "warmup_steps": 100, "ema_decay": 0.999, "curve": curve}

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=list(RECIPES)); ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--every", type=int, default=1000); ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--samples", type=int, default=359, help="samples per draw (the pipeline: 1000)")
    ap.add_argument("--seed", type=int, default=0); ap.add_argument("--out", default="benchmarks/results/recipe_sweep.json")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="where sampling runs (training: CUDA when there is one)")
    a = ap.parse_args()
    p, ds, ref, ae, z, labels, stats = load_pipeline_outputs()
    zn, out = to_flow_space(z, stats, "vanilla"), Path(a.out)
    result = json.loads(out.read_text()) if out.exists() else {}
    result.setdefault("recipes", {})
    result.update({"reference": ref.description, "features": ref.name, "samples_per_draw": a.samples, "draws": a.draws,
                   "sampler": "euler-50", "threads": torch.get_num_threads(),
                   "device": torch.cuda.get_device_name() if a.device == "cuda" else "cpu"})

    def save():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp"); tmp.write_text(json.dumps(result, indent=2) + "\n"); tmp.replace(out)

    for name in a.only:   # saved after every scored checkpoint: a run cut short keeps what it measured
        partial = lambda curve: (result["recipes"].__setitem__(name, {"curve": curve, "steps": a.steps, "partial": True}), save())
        result["recipes"][name] = run(name, p, ref, ae, zn, stats, a.steps, a.every, a.draws, a.seed, a.samples, a.device, partial) | {"steps": a.steps}
        save()
