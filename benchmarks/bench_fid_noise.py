"""Where the FID noise of a row comes from: the noise seed of the draw (the same seed gives about the same FID on two
different models), the class mix of a 359-sample draw, and the draw size; writes JSON.

    python benchmarks/bench_fid_noise.py --rows vanilla-linear spherical-slerp --seeds 0 1 2 3 4 5 6 7 \
        --sizes 359 1000 3000 --out benchmarks/results/fid_noise.json

Needs the pipeline's outputs (`make repro`): each row's trained model, the encode stage's decoder and the features
stage's extractor, sampled and decoded like `sample@<row>` (the `sample` section of params.yaml). For every noise seed
and draw size: the FID against the test split, and (at 359) the class mix of the draw (each sample labelled by its
nearest test image in feature space) with its total-variation distance to the test split's mix. Reports, per size,
the mean and sd of each row's FID over the seeds, and the sd of the paired difference between the two rows (the same
noise seeds): the noise a comparison on shared noise has to beat. Not a test.
"""
import argparse, json, statistics, time
from pathlib import Path
import torch
from pipeline_outputs import load_pipeline_outputs
from refine_lib import evaluation as E, metrics as M


def class_mix(ref, feats) -> list:
    "Counts per class of `feats`, each labelled by its nearest reference feature."
    nn = torch.cdist(feats.double(), ref.features.double()).argmin(1)
    return torch.bincount(ref.labels[nn], minlength=int(ref.labels.max()) + 1).tolist()


def tv_distance(a: list, b: list) -> float:
    "Total-variation distance between two count vectors, as proportions."
    sa, sb = sum(a), sum(b)
    return 0.5 * sum(abs(x / sa - y / sb) for x, y in zip(a, b))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", nargs="+", default=["vanilla-linear", "spherical-slerp"])
    ap.add_argument("--seeds", nargs="+", type=int, default=list(range(8)))
    ap.add_argument("--sizes", nargs="+", type=int, default=[359, 1000, 3000])
    ap.add_argument("--out", default="benchmarks/results/fid_noise.json")
    a = ap.parse_args()
    p, ds, ref, ae, _, _, stats = load_pipeline_outputs()
    real_mix = torch.bincount(ref.labels).tolist()
    per = {}
    t0 = time.perf_counter()
    for row in a.rows:
        model, info = E.load_trained(Path("outputs/train") / row)
        per[row] = {}
        for n in a.sizes:
            per[row][str(n)] = {}
            for seed in a.seeds:
                images = E.decode_samples(ae, E.draw_samples(model, info, p.sample, n, seed=seed).x, stats, info["geometry"])
                f = ref.extractor(images)
                r = {"fid": M.fid(ref.features, f)}
                if n == min(a.sizes):
                    mix = class_mix(ref, f); r |= {"class_mix": mix, "class_mix_tv": tv_distance(mix, real_mix)}
                per[row][str(n)][str(seed)] = r
    summary = {}
    for n in map(str, a.sizes):
        s = {row: {"mean": statistics.mean(v["fid"] for v in per[row][n].values()),
                   "sd": statistics.stdev(v["fid"] for v in per[row][n].values()),
                   "min": min(v["fid"] for v in per[row][n].values()), "max": max(v["fid"] for v in per[row][n].values())}
             for row in a.rows}
        if len(a.rows) >= 2:
            r0, r1 = a.rows[:2]
            diffs = [per[r0][n][str(k)]["fid"] - per[r1][n][str(k)]["fid"] for k in a.seeds]
            s["paired_difference"] = {"rows": f"{r0} - {r1}", "mean": statistics.mean(diffs), "sd": statistics.stdev(diffs)}
            x = [per[r0][n][str(k)]["fid"] for k in a.seeds]; y = [per[r1][n][str(k)]["fid"] for k in a.seeds]
            s["correlation_across_seeds"] = float(torch.corrcoef(torch.tensor([x, y]))[0, 1])
        summary[n] = s
    small = str(min(a.sizes))
    # within each row (pooled rows would mix the rows' own difference into it)
    summary["class_mix_tv_vs_fid_correlation"] = {
        row: float(torch.corrcoef(torch.tensor([[v["class_mix_tv"] for v in per[row][small].values()],
                                                [v["fid"] for v in per[row][small].values()]]))[0, 1]) for row in a.rows}
    result = {"rows": a.rows, "seeds": a.seeds, "sizes": a.sizes, "reference": ref.description, "features": ref.name,
              "reference_class_mix": real_mix, "seconds": round(time.perf_counter() - t0, 1), "summary": summary, "per_row": per}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
