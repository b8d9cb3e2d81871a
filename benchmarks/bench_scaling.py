"""What grows with the size of the data set: the per-image work of each stage, timed per 1,000 images.

Training stages run a fixed number of steps (their cost does not depend on the number of images) and evaluate draws
a fixed number of samples per row (`sample.num_samples`); what remains is per-image work: encoding, feature
extraction, the per-sample scores, memorisation distances. This script times each of them at the default settings
(random-init networks of the default sizes: the cost does not depend on the weights) on N images and writes seconds per
1,000 images to JSON:
`python benchmarks/bench_scaling.py [--n 3000] [--out benchmarks/results/scaling.json]`."""
import argparse, json, os, platform, time
from pathlib import Path
import torch
from refine_lib import autoencoder as A, metrics as M, stability as ST
from refine_lib.config import Params
from refine_lib.contrastive import ContrastiveCNN, ContrastiveFeatures
from refine_lib.paths import get_path
from refine_lib.sit import SiTSpec, build_sit

def timed(fn):
    t0 = time.perf_counter(); out = fn(); return time.perf_counter() - t0, out

def main():
    ap = argparse.ArgumentParser(); ap.add_argument("--n", type=int, default=3000); ap.add_argument("--out", default="benchmarks/results/scaling.json")
    a = ap.parse_args()
    p, n = Params(), a.n
    torch.manual_seed(0)
    images = torch.rand(n, p.data.channels, p.data.image_size, p.data.image_size) * 2 - 1
    ae = A.build_autoencoder(p.encode, p.data.channels, p.data.image_size)
    res = {}
    res["encode: encode the images"], z = timed(lambda: A.encode_images(ae, images, p.encode.encode_batch_size))
    res["encode: reconstruction metrics (test split)"], _ = timed(lambda: A.reconstruction_metrics(ae, images, p.encode.encode_batch_size))
    clf = M.ClassifierFeatures(M.DigitClassifier(p.data.channels, 10, p.features.width, p.features.feature_dim))
    res["features / evaluate: classifier features"], feats = timed(lambda: clf(images))
    ssl = ContrastiveFeatures(ContrastiveCNN(p.data.channels, dim=p.features.feature_dim))
    res["features / evaluate: ssl features"], _ = timed(lambda: ssl(images))
    spec = SiTSpec(size=p.scores.model, patch_size=p.train.patch_size, input_size=z.shape[-1], in_channels=z.shape[1])
    probe = build_sit(spec, seed=0)
    res["scores: loss, gradient-norm, k-centre and clustering scores"], _ = timed(
        lambda: ST.compute_scores(probe, z, feats, get_path("linear"), p.scores.ts, clusters=p.scores.clusters, seed=0))
    samples = images[:p.sample.num_samples]
    res["evaluate: memorisation distances (per row, against the training images)"], _ = timed(
        lambda: M.memorization(samples.flatten(1), images.flatten(1), p.score.memorization_ratio))
    per_1000 = {k: round(v / n * 1000, 3) for k, v in res.items()}
    out = {"n_images": n, "image_size": p.data.image_size, "channels": p.data.channels, "torch_threads": torch.get_num_threads(),
           "cpus": os.cpu_count(), "machine": platform.machine(), "seconds_per_1000_images": per_1000}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))

if __name__ == "__main__": main()
