"""(RS-)IMLE on the pipeline's data: FID, precision and recall of the single-pass (mlp) and recursive (rtm) mappers
along training, and seconds per step; writes JSON.

    python benchmarks/bench_imle.py --steps 3000 --every 500 --out benchmarks/results/imle_digits.json
    python benchmarks/bench_imle.py --few-shot 10 --steps 2000 --every 500 --out benchmarks/results/imle_fewshot.json

Each mapper drives the same synthesis network (`refine_lib.rtm.build_style_generator`, same init seed); the MLP's
hidden width is chosen so that both mappers have the same parameter count (`matched_mlp_hidden`). Training is
`rtm.train_imle` (the project's loop): pools of 10 x N latents, RS-IMLE rejection, loss = perceptual (the semantic
stage's self-supervised teacher) + 0.1 x pixel MSE. Every `--every` steps the EMA generator draws `--draws` x
`--samples` images (seeded like the pipeline's draws) scored by the features stage's extractor against the test split,
like every row of the pipeline. Needs `make repro`'s encode, features and semantic outputs. Not a test: it sizes the
pipeline's IMLE rows (steps to the plateau, cost).
"""
import argparse, json, platform, statistics, tempfile, time
from pathlib import Path
import torch
from pipeline_outputs import load_pipeline_outputs
from refine_lib import evaluation as E, rtm as R
from refine_lib.contrastive import ContrastiveFeatures
from refine_lib.data import few_shot_indices
from refine_lib.training import LoopConfig


def run(mapper, images, ref, p, a, perceptual):
    rtm_kw = dict(tokens=a.tokens, width=a.width, H=a.H, L=a.L)
    probe = R.build_style_generator("rtm", a.z_dim, a.w_dim, images.shape[-1], images.shape[1], a.base_channels, **rtm_kw)
    hidden = R.matched_mlp_hidden(R.count_params(probe.mapper), a.z_dim, a.w_dim)
    g = R.build_style_generator(mapper, a.z_dim, a.w_dim, images.shape[-1], images.shape[1], a.base_channels, mlp_hidden=hidden, seed=a.seed, **rtm_kw)
    loop = LoopConfig(steps=a.steps, batch_size=a.batch_size, lr=a.lr, warmup_steps=50, ema_decay=a.ema_decay, grad_clip=1.0,
                      checkpoint_every=a.every, log_every=50)
    cfg = R.ImleSettings(rematch_every=a.rematch_every, eps=a.eps)
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
    ap.add_argument("--steps", type=int, default=3000); ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=64); ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--rematch-every", type=int, default=100); ap.add_argument("--eps", type=float, default=0.1)
    ap.add_argument("--z-dim", type=int, default=64); ap.add_argument("--w-dim", type=int, default=64)
    ap.add_argument("--base-channels", type=int, default=64); ap.add_argument("--tokens", type=int, default=8)
    ap.add_argument("--width", type=int, default=64); ap.add_argument("--H", type=int, default=8); ap.add_argument("--L", type=int, default=2)
    ap.add_argument("--perceptual", default="teacher", choices=["teacher", "none"])
    ap.add_argument("--draws", type=int, default=3); ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--ema-decay", type=float, default=0.999); ap.add_argument("--seed", type=int, default=0); ap.add_argument("--out", default="benchmarks/results/imle_digits.json")
    a = ap.parse_args()
    p, ds, ref, ae, z, labels, stats = load_pipeline_outputs()
    images = ds["train"].images
    if a.few_shot: images = images[few_shot_indices(ds["train"].labels, a.few_shot, seed=a.seed)]
    perceptual = None
    if a.perceptual == "teacher":
        teacher = ContrastiveFeatures.load("outputs/semantic/teacher.safetensors", "the semantic stage")
        perceptual = R.feature_distance(teacher.net.body)
    out = Path(a.out)
    result = {"settings": vars(a), "train_images": len(images), "reference": ref.description, "features": ref.name,
              "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(), "runs": {}}
    for m in a.mappers:
        result["runs"][m] = run(m, images, ref, p, a, perceptual)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp"); tmp.write_text(json.dumps(result, indent=2) + "\n"); tmp.replace(out)
