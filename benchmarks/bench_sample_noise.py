"""How much a row's scores move between independent sets of samples of the same trained model, against what a bootstrap
over one set says; writes JSON.

    python benchmarks/bench_sample_noise.py --row vanilla-linear --draws 8 --out benchmarks/results/sample_noise.json

Needs the pipeline's outputs (`make repro`): the row's trained model, the encode stage's decoder and the features
stage's extractor, scored exactly like the sample stage (`sample` and `score` sections of params.yaml). Draw k uses
noise seed k (the pipeline's row is draw 0). Reports each draw's metrics, their mean and standard deviation, and the
percentile bootstrap interval of draw 0 (`refine_lib.metrics.bootstrap_intervals`, 200 resamples): with 359 samples a
resample holds ~63% distinct samples, so its recall and coverage sit below the estimate and its FID above it.
Not a test.
"""
import argparse, json
from pathlib import Path
import numpy as np
from pipeline_outputs import load_pipeline_outputs
from refine_lib import evaluation as E, metrics as M

KEYS = ("fid", "precision", "recall", "density", "coverage")

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--row", default="vanilla-linear"); ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--out", default="benchmarks/results/sample_noise.json")
    a = ap.parse_args()
    p, ds, ref, ae, _, _, stats = load_pipeline_outputs()
    model, info = E.load_trained(Path("outputs/train") / a.row)
    n = ref.budget(p.sample.num_samples)
    draws = []
    for seed in range(a.draws):
        images = E.decode_samples(ae, E.draw_samples(model, info, p.sample, n, seed=seed).x, stats, info["geometry"])
        m = M.compute_metrics(ref.features, ref.extractor(images), k_pr=p.score.k_pr, k_dc=p.score.k_dc, bootstrap=200 if seed == 0 else 0)
        draws.append(m)
    summary = {k: {"mean": float(np.mean([d[k] for d in draws])), "sd": float(np.std([d[k] for d in draws], ddof=1)),
                   "min": float(min(d[k] for d in draws)), "max": float(max(d[k] for d in draws)),
                   "draw0": draws[0][k], "draw0_bootstrap_95": [draws[0][f"{k}_lo"], draws[0][f"{k}_hi"]]} for k in KEYS}
    result = {"row": a.row, "samples_per_draw": n, "draws": a.draws, "reference": ref.description, "features": ref.name,
              "summary": summary, "per_draw": {str(i): {k: d[k] for k in KEYS} for i, d in enumerate(draws)}}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
