"""Does the plain few-shot baseline collapse? LIRF's premise, measured; writes JSON.

    python benchmarks/bench_lirf_collapse.py --few-shot 10 --model tiny --steps 3000 --every 750 \
        --out benchmarks/results/lirf_collapse.json

Trains the plain flow model of the `refine-lirf` stage (`lirf.runs.baseline`: plain latents, no LIRF) on a
class-balanced few-shot subset of the training split (`data.few_shot_indices`, seeded), through the project's loop,
and every `--every` steps draws 359 samples from the EMA model, decodes them with the encode stage's decoder and scores
them like every row (features stage's extractor, the test split as reference), with memorisation against the few-shot
images. A collapsed model copies its training images: a high memorised share and a low recall. Needs `make repro`'s
encode and features outputs. Not a test: it measures where the default few-shot setting should sit.
"""
import argparse, json, tempfile, time
from pathlib import Path
import torch
from pipeline_outputs import load_pipeline_outputs
from refine_lib import data as D, evaluation as E, lirf as L
from refine_lib.geometry import to_flow_space
from refine_lib.paths import get_path
from refine_lib.sit import SiTSpec, build_sit
from refine_lib.training import LoopConfig, train_flow

KEYS = ("fid", "precision", "recall", "density", "coverage", "memorized", "nn_distance_ratio")

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--few-shot", type=int, default=10); ap.add_argument("--model", default="tiny")
    ap.add_argument("--steps", type=int, default=3000); ap.add_argument("--every", type=int, default=750)
    ap.add_argument("--batch-size", type=int, default=64); ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0); ap.add_argument("--out", default="benchmarks/results/lirf_collapse.json")
    a = ap.parse_args()
    p, ds, ref, ae, z, labels, stats = load_pipeline_outputs()
    idx = D.few_shot_indices(labels, a.few_shot, seed=a.seed, total=len(z))
    zn, few_images = to_flow_space(z, stats, "vanilla")[idx], ds["train"].images[idx]
    spec = SiTSpec(size=a.model, patch_size=1, input_size=z.shape[-1], in_channels=z.shape[1])
    model, rows, t0 = build_sit(spec, seed=a.seed), {}, time.time()
    with tempfile.TemporaryDirectory() as ckpt:
        for end in range(a.every, a.steps + 1, a.every):   # one run, continued: each segment resumes from the last checkpoint
            loop = LoopConfig(steps=a.steps, batch_size=a.batch_size, lr=a.lr, warmup_steps=100, checkpoint_every=a.every, log_every=50)
            res = train_flow(model, zn, get_path("linear"), loop, ckpt, seed=a.seed, stop_after=end, progress=False)
            x = E.draw_samples(res["ema"], {"spec": vars(spec) | {"num_classes": 0}, "path": "linear", "geometry": "vanilla"}, p.sample, 359, seed=a.seed).x
            m = E.score_samples(E.decode_samples(ae, x, stats, "vanilla"), ref, p.score, train_pixels=few_images)
            rows[str(end)] = {k: m[k] for k in KEYS} | {"seconds_so_far": round(time.time() - t0, 1)}
            print(end, {k: round(v, 3) for k, v in rows[str(end)].items()}, flush=True)
    result = {"few_shot": len(idx), "per_class": torch.bincount(labels[idx]).tolist() if labels is not None else None, "model": spec.name,
              "batch_size": a.batch_size, "lr": a.lr, "seed": a.seed, "reference": ref.description, "features": ref.name,
              "memorized_means": f"closer to a few-shot image than {p.score.memorization_ratio:.3f} x the median few-shot nearest-neighbour distance",
              "by_step": rows}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
