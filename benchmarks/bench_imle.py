"""(RS-)IMLE on the pipeline's data: FID, precision and recall of the single-pass (mlp) and recursive (rtm) mappers
along training, and seconds per step; writes JSON.

    python benchmarks/bench_imle.py --steps 4000 --every 1000 --out benchmarks/results/imle_digits.json
    python benchmarks/bench_imle.py --few-shot 10 --steps 3000 --every 1000 --out benchmarks/results/imle_fewshot.json

Each mapper drives the same synthesis network, built as the pipeline builds it (`refine_lib.rtm.matched_generator`
from params.yaml's `imle` section: same init seed, the MLP's hidden width matched to RTM's mapper parameter count).
Training is `rtm.train_imle` (the project's loop) with the `imle` section's settings: pools of 10 x N latents, RS-IMLE
rejection, loss = LPIPS-style distance on the semantic stage's teacher's conv maps + 0.1 x pixel MSE; the flags
override the budget (steps, batch, lr, re-selection interval in epochs) and the loss. Every `--every` steps the EMA generator draws `--draws` x
`--samples` images (seeded like the pipeline's draws) scored by the features stage's extractor against the test split,
like every row of the pipeline. Needs `make repro`'s encode, features and semantic outputs. Not a test: it sizes the
pipeline's IMLE rows (steps to the plateau, cost).
"""
import argparse, dataclasses, json, platform, statistics, tempfile, time
from pathlib import Path
import torch
from pipeline_outputs import load_pipeline_outputs
from refine_lib import config, evaluation as E, rtm as R
from refine_lib.data import few_shot_indices
from refine_lib.training import LoopConfig


def run(mapper, images, ref, p, i, a, perceptual):
    # the generator and the IMLE settings as the train-imle stage builds them from the `imle` section (one place: refine_lib.rtm)
    g, spec = R.matched_generator(mapper, R.generator_spec(i, images.shape[-1], images.shape[1]), seed=a.seed)
    hidden = spec["mlp_hidden"]
    loop = LoopConfig(steps=a.steps, batch_size=min(a.batch_size, len(images)), lr=a.lr, warmup_steps=i.warmup_steps, ema_decay=i.ema_decay,
                      grad_clip=i.grad_clip, checkpoint_every=a.every, log_every=50)
    cfg = R.imle_settings(i, len(images), loop.batch_size)
    curve, train_s = [], 0.0
    with tempfile.TemporaryDirectory() as ckpt:
        for end in range(a.every, a.steps + 1, a.every):
            res = R.train_imle(g, images, loop, cfg, ckpt, perceptual=perceptual, seed=a.seed, stop_after=end, progress=False)
            train_s += res["seconds"]
            scores = [E.score_samples(R.generate_images(res["ema"], a.samples, seed=a.seed + 1000 * d), ref, p.score, memorization=False) for d in range(a.draws)]
            point = {"step": end, "train_seconds": round(train_s, 1), "match_distance": res["history"][-1].get("match_distance")}
            for m in ("fid", "precision", "recall"):
                v = [s[m] for s in scores]
                point[m], point[f"{m}_sd_draws"] = statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else None)
            curve.append(point)
            print(mapper, end, {k: round(point[k], 3) for k in ("fid", "precision", "recall")}, f"{train_s:.0f}s", flush=True)
    return {"mapper": mapper, "mapper_params": R.count_params(g.mapper), "params": R.count_params(g), "mlp_hidden": hidden if mapper == "mlp" else None,
            "seconds_per_step": round(train_s / a.steps, 4), "curve": curve}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mappers", nargs="+", default=["mlp", "rtm"]); ap.add_argument("--few-shot", type=int, default=0)
    # defaults: the pipeline's (params.yaml, imle section); these flags override the training budget only
    ap.add_argument("--steps", type=int, default=None); ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=None); ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--rematch-epochs", type=float, default=None); ap.add_argument("--perceptual", default=None, choices=["teacher", "timm", "none"])
    ap.add_argument("--draws", type=int, default=3); ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0); ap.add_argument("--out", default="benchmarks/results/imle_digits.json")
    a = ap.parse_args()
    p, ds, ref, ae, z, labels, stats = load_pipeline_outputs()
    for k in ("steps", "batch_size", "lr", "rematch_epochs", "perceptual"):
        if getattr(a, k) is None: setattr(a, k, getattr(p.imle, k))
    images = ds["train"].images
    if a.few_shot: images = images[few_shot_indices(ds["train"].labels, a.few_shot, seed=a.seed)]
    i = dataclasses.replace(p.imle, rematch_epochs=a.rematch_epochs, perceptual=a.perceptual)   # the flags' overrides, validated again
    perceptual, _ = R.perceptual_distance(i, "outputs/semantic")
    out = Path(a.out)
    result = {"settings": vars(a), "imle": config.to_dict(p)["imle"], "train_images": len(images), "reference": ref.description, "features": ref.name,
              "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(), "runs": {}}
    for m in a.mappers:
        result["runs"][m] = run(m, images, ref, p, i, a, perceptual)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp"); tmp.write_text(json.dumps(result, indent=2) + "\n"); tmp.replace(out)
