"""How long BFR's refiners must train: FID of the refined rows against refiner steps; writes JSON.

    python benchmarks/bench_bfr.py --steps 8000 --every 2000 --out benchmarks/results/bfr_steps.json

Trains the LFR and DFR refiners of `refine-bfr` (the committed `bfr` params: SiT size, batch, lr, a_max, augmentation)
on the base `bfr.base` through `refine_lib.bfr.train_refiner`, one run continued from its checkpoints; every `--every`
steps the EMA refiner is scored exactly as `evaluate-bfr` scores its rows: LFR at its first sampler (1 NFE) from the
sample stage's noise seeds, DFR at its k-step sampler on the sample stage's own base samples, 3 draws x 1000 samples
against the test split. Seconds are training seconds on this machine. Needs `make repro`'s encode, features, train and
sample outputs. Not a test.
"""
import argparse, json, statistics, tempfile, time
from pathlib import Path
import torch
from pipeline_outputs import load_pipeline_outputs
from refine_lib import bfr as B, config, evaluation as E
from refine_lib.geometry import to_flow_space
from refine_lib.sit import SiTSpec, build_sit
from refine_lib.training import LoopConfig

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8000); ap.add_argument("--every", type=int, default=2000)
    ap.add_argument("--only", nargs="*", default=["lfr", "dfr"]); ap.add_argument("--out", default="benchmarks/results/bfr_steps.json")
    a = ap.parse_args()
    p, ds, ref, ae, z, labels, stats = load_pipeline_outputs()
    b = p.bfr
    base, info = E.load_trained(Path("outputs/train") / b.base)
    zn = to_flow_space(z, stats, "vanilla")
    method, steps = p.sample.sampler_for(info["path"]), p.sample.steps
    inverted = B.invert(base, zn, method, steps).x
    pool = E.draw_samples(base, info, p.sample, b.pool, seed=p.seed + 1_000_000).x
    sets = E.load_sample_sets(Path("outputs/sample") / b.base); final = sets[max(sets)]
    draws = int(final.record["draws"]); n = len(final.latents) // draws
    base_fid = E.score_sets({0: final}, ref, p.score)["fid"]
    lm, lk = config.parse_refiner_sampler(b.lfr_samplers[0]); dk = max(config.parse_refiner_sampler(s)[1] for s in b.dfr_samplers)
    spec = SiTSpec(size=b.model, patch_size=info["spec"]["patch_size"], input_size=zn.shape[-1], in_channels=zn.shape[1])
    loop = LoopConfig(steps=a.steps, batch_size=b.batch_size, lr=b.lr, warmup_steps=b.warmup_steps, ema_decay=b.ema_decay, grad_clip=1.0,
                      checkpoint_every=a.every, log_every=50)
    result = {"base": b.base, "base_fid": base_fid, "model": spec.name, "batch_size": b.batch_size, "lr": b.lr, "a_max": b.a_max,
              "samples_per_draw": n, "draws": draws, "threads": torch.get_num_threads(), "device": "cpu", "refiners": {}}
    for kind in a.only:
        batches = (B.lfr_batches(inverted, b.batch_size, b.a_max, b.sigma, b.timesteps) if kind == "lfr" else
                   B.dfr_batches(pool, zn, b.batch_size, b.sigma, b.timesteps, noise_std=b.noise_std, noise_share=b.noise_share))
        model, curve, train_s = build_sit(spec, seed=p.seed), [], 0.0
        with tempfile.TemporaryDirectory() as ckpt:
            for end in range(a.every, a.steps + 1, a.every):
                res = B.train_refiner(model, batches, loop, ckpt, seed=p.seed, stop_after=end, progress=False)
                train_s += res["seconds"]
                if kind == "lfr": x = torch.cat([B.lfr_generate(res["ema"], base, n, tuple(zn.shape[1:]), p.seed + 1000 * d, lm, lk, method, steps).x for d in range(draws)])
                else: x = B.refine(res["ema"], final.latents, "euler", dk).x
                row = E.score_sets({0: E.SampleSet(E.decode_samples(ae, x, stats), final.record, x)}, ref, p.score)
                curve.append({"step": end, "train_seconds": round(train_s, 1), "fid": row["fid"], "fid_lo": row["fid_lo"], "fid_hi": row["fid_hi"],
                              "recall": row["recall"], "loss": statistics.mean(h["loss"] for h in res["history"][-10:])})
                print(kind, end, f"FID {row['fid']:.1f} (base {base_fid:.1f}) recall {row['recall']:.3f} {train_s:.0f}s", flush=True)
        result["refiners"][kind] = {"sampler": f"{lm}-{lk}" if kind == "lfr" else f"euler-{dk}", "curve": curve}
        out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp"); tmp.write_text(json.dumps(result, indent=2) + "\n"); tmp.replace(out)
