"""`dvc repro` of a smoke parameter set in a fresh copy of the project: outputs, a no-op second run, and bad input
(a typo in params.yaml, a corrupt image) failing clearly without losing what was already computed."""
import json
import pytest, yaml
from PIL import Image
from conftest import copy_project, run

# the smoke parameter set: every stage runs, on the real default data, in well under a minute each
SMOKE = {"encode": {"steps": 20, "batch_size": 32},
         "features": {"steps": 30, "batch_size": 64},
         "decoder": {"steps": 10, "batch_size": 32, "swap_anchors": 50},
         "scores": {"steps": 20, "batch_size": 32, "ts": [0.3, 0.7]},
         "train": {"steps": 40, "batch_size": 32, "checkpoint_every": 20, "warmup_steps": 5, "log_every": 5, "snapshot_every": 20},
         "semantic": {"teacher_steps": 20, "steps": 10, "batch_size": 32, "manifold_weight": 0.1},
         # tau: a 40-step model's candidates lie 7-12 normalised units (per lambda) from the bank, against 2.5-4 for the default run's
         "lirf": {"few_shot": 20, "steps": 40, "interval": 15, "candidates": 16, "sampling_steps": 4, "batch_size": 16, "warmup_steps": 5, "tau": 9.0},
         "sample": {"steps": 4, "num_samples": 64, "draws": 2},
         # the presets' parts too: every refiner with the transfer rows (make bfr-full), the seam model (make seam)
         "bfr": {"steps": 20, "batch_size": 16, "warmup_steps": 5, "pool": 64, "run": ["lfr", "dfr", "dfr-noaug"], "transfer_to": "micro-linear"},
         "coarse_to_fine": {"seam_t_split": 0.7},
         "imle": {"steps": 30, "batch_size": 16, "warmup_steps": 5, "checkpoint_every": 10, "snapshot_every": 15, "rematch_epochs": 0.2,
                  "pool_factor": 4, "rtm": {"tokens": 4, "width": 16, "H": 2, "L": 1, "expansion": 2, "readout": "mean"}, "h_sweep": [1, 2, 4]},
         # every family of rows once, and one replicate (<row>-seed1) of a full-data row
         "rows": {"train": ["vanilla-linear", "vanilla-linear-seed1", "spherical-slerp", "micro-linear"],
                  "reduced": ["subset-loss-50", "subset-random-50"]}}
SMOKE["lirf"]["seeds"] = [0, 1]   # every run twice: <run> and <run>-seed1


def smoke_params(proj):
    p = yaml.safe_load((proj / "params.yaml").read_text())
    for section, values in SMOKE.items(): p[section].update(values)
    (proj / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))


@pytest.fixture(scope="module")
def repro_project(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("pipeline") / "proj")
    smoke_params(project)
    env = {"PYTHONPATH": str(project)}   # the kernel imports this copy's refine_lib
    run("python -m refine_lib.data --materialize-digits data && dvc add -q data", project, env=env)
    run("dvc repro", project, env=env, timeout=2400)   # ~12 min alone on 2 cores; slower when they are shared
    return project, env


# one test per stage on the shared smoke project (the fixture runs `dvc repro` once)
ROWS = ["vanilla-linear", "vanilla-linear-seed1", "spherical-slerp", "micro-linear"]   # SMOKE rows.train
C2F = [f"coarse-to-fine t{t}" for t in (0, 30, 50, 70, 90, 100)]


def metrics(proj, name): return json.loads((proj / "metrics" / f"{name}.json").read_text())


def test_encode_stage(repro_project):
    proj, _ = repro_project
    m = metrics(proj, "encode")
    assert (m["n_train"], m["n_test"], m["few_shot_set"], m["latent_shape"], m["train_steps"]) == (1438, 359, False, {"channels": 4, "height": 4, "width": 4}, 20)
    for f in ["outputs/encode/autoencoder/diffusion_pytorch_model.safetensors", "outputs/encode/latents_test.safetensors",
              "reports/encode/reconstructions.png", "reports/notebooks/encode.ipynb"]:
        assert (proj / f).exists(), f
    from refine_lib.data import load_latents
    z, y, stats = load_latents(proj / "outputs/encode/latents_train.safetensors")
    assert z.shape == (1438, 4, 4, 4) and y.shape == (1438,) and stats.mean.shape == (4,)


def test_features_stage(repro_project):
    proj, _ = repro_project
    f = metrics(proj, "features")
    assert (f["extractor"], f["name"]) == ("classifier", "classifier-64d") and f["test_accuracy"] > 0.5   # auto: the data has labels
    assert json.loads((proj / "outputs/features/extractor.json").read_text())["extractor"] == "classifier"


def test_finetune_decoder_stage(repro_project):
    proj, _ = repro_project
    fd = metrics(proj, "finetune-decoder")
    # decoder.packs [1, 2]: tokens of d = 4 (one position) and d = 16 (2x2 positions), a spherical decoder for each
    assert set(fd["reconstruction"]) == {"original decoder", "original decoder on projected latents, d = 4", "original decoder on projected latents, d = 16",
                                         "finetuned vanilla decoder", "spherical decoder (projected latents), d = 4", "spherical decoder (projected latents), d = 16"}
    for d in (4, 16):
        assert abs(fd["norms"][f"projected latents (spherical), d = {d}"]["mean_radius_over_sqrt_d"] - 1) < 1e-6
        assert fd["radial_share"][f"spherical-slerp, d = {d}"]["t_mid"] < 1e-6 < fd["radial_share"][f"vanilla-linear, d = {d}"]["t_mid"]
        assert fd["swap_probe"][f"d = {d}"]["anchors"] == 50
    # the Gaussian shell is thinner at d = 16: the premise the packing is for
    assert fd["norms"]["Gaussian noise (vanilla prior), d = 16"]["cv"] < fd["norms"]["Gaussian noise (vanilla prior), d = 4"]["cv"]
    for f in ["outputs/finetune-decoder/spherical/diffusion_pytorch_model.safetensors", "reports/finetune-decoder/radial_share.png",
              "outputs/finetune-decoder/spherical-pack2/diffusion_pytorch_model.safetensors", "reports/finetune-decoder/swap_probe_d16.png",
              "outputs/finetune-decoder/vanilla/diffusion_pytorch_model.safetensors", "reports/finetune-decoder/swap_probe_d4.png",
              "reports/finetune-decoder/norm_table.md"]:
        assert (proj / f).exists(), f


def test_scores_stage(repro_project):
    proj, _ = repro_project
    sc = metrics(proj, "scores")
    assert sc["n"] == 1438 and not sc["reused"] and set(sc["spearman"]) == {"loss", "gradnorm", "random", "kcenter", "clustering"}
    assert all(abs(sum(v.values()) / len(v) - 0.5) < 0.05 for v in sc["kept_per_class_50"].values())   # each 50% subset keeps about half
    assert sc["subsets"] == {"subset-loss-50": {"criterion": "loss", "kept": 719}, "subset-random-50": {"criterion": "random", "kept": 719}}
    assert len(json.loads((proj / "outputs/scores/subsets/subset-loss-50.json").read_text())["indices"]) == 719


def test_train_stage(repro_project):
    proj, _ = repro_project
    for m in ROWS + ["subset-loss-50", "subset-random-50"]:
        t = metrics(proj, f"train/{m}")
        assert t["steps"] == (80 if m == "micro-linear" else 40) and t["train_samples"] == (719 if m.startswith("subset") else 1438), m   # micro: steps_factor 2
    assert metrics(proj, "train/micro-linear")["model"].startswith("SiT-micro")
    # spherical-slerp packs 2x2 positions into tokens of 16 channels: a 2x2 grid, patch 1 (the same 4 tokens as patch 2 on 4x4)
    sph = json.loads((proj / "outputs/train/spherical-slerp/model.json").read_text())
    assert (sph["pack"], sph["spec"]["in_channels"], sph["spec"]["input_size"], sph["spec"]["patch_size"]) == (2, 16, 2, 1)
    # a replicate: the same method with another seed, so another init and other batches
    infos = {m: json.loads((proj / f"outputs/train/{m}/model.json").read_text()) for m in ("vanilla-linear", "vanilla-linear-seed1")}
    assert (infos["vanilla-linear"]["seed"], infos["vanilla-linear-seed1"]["seed"], infos["vanilla-linear-seed1"]["replicate_seed"]) == (0, 1, 1)
    assert infos["vanilla-linear"]["method_cfg"] | {"seed": 1} == infos["vanilla-linear-seed1"]["method_cfg"]
    assert metrics(proj, "train/vanilla-linear")["final_loss"] != metrics(proj, "train/vanilla-linear-seed1")["final_loss"]
    assert (proj / "outputs/train/spherical-slerp/model.safetensors").exists()


def test_semantic_stage(repro_project):
    proj, _ = repro_project
    sem = metrics(proj, "semantic")
    assert sem["teacher"] == "ssl-teacher-32d" and set(sem["knn_accuracy"]) == {"teacher", "plain_latents", "semantic_latents"}
    for f in ["outputs/semantic/autoencoder/diffusion_pytorch_model.safetensors", "outputs/semantic/teacher.safetensors",
              "outputs/semantic/latents_train.safetensors", "reports/semantic/interpolations.png"]:
        assert (proj / f).exists(), f


def test_refine_lirf_stage_admits_some_candidates_and_refuses_others(repro_project):
    """The LIRF loop with the default admission rule (per lambda; the smoke's tau): the bank grows by exactly what each
    round admits, and over the rounds some candidates are admitted and some refused (the rule is exercised, not bypassed)."""
    proj, _ = repro_project
    ref = metrics(proj, "refine-lirf")
    assert list(ref) == ["baseline", "baseline-seed1", "lirf-semantic", "lirf-semantic-seed1", "lirf-plain", "lirf-plain-seed1"] and ref["baseline"]["rounds"] == {} and ref["baseline"]["bank_size"] == 20
    admitted = refused = 0
    for r in ("lirf-semantic", "lirf-plain"):
        rounds = list(ref[r]["rounds"].values())
        assert [(x["round"], x["step"]) for x in rounds] == [(1, 15), (2, 30)]
        assert [round(x["lambda"], 6) for x in rounds] == [0.8, 0.2] and all(x["mean_correction"] > 0 for x in rounds)
        assert [x["bank_size"] for x in rounds] == [20 + sum(y["admitted"] for y in rounds[:i + 1]) for i in range(len(rounds))]
        admitted += sum(x["admitted"] for x in rounds); refused += sum(16 - x["admitted"] for x in rounds)
    assert admitted > 0 and refused > 0, (admitted, refused)
    for f in ["outputs/refine-lirf/few_shot.json", "outputs/refine-lirf/lirf-semantic/bank.safetensors", "outputs/refine-lirf/baseline/model.safetensors",
              "reports/refine-lirf/bank_growth.png", "reports/refine-lirf/projection.png", "reports/refine-lirf/rounds.md"]:
        assert (proj / f).exists(), f


def test_sample_stage_writes_the_samples_contract(repro_project):
    """Every baseline row: samples decoded by the encode stage's decoder (no paper's), with the record of what made
    them, scored against the test split, FID at every EMA snapshot."""
    proj, _ = repro_project
    from refine_lib.evaluation import load_sample_sets
    for m in ROWS:
        r = metrics(proj, f"sample/{m}")[m]
        assert {"fid", "precision", "recall", "density", "coverage", "memorized", "extractor", "num_samples", "sampler", "nfe", "seed"} <= set(r)
        assert r["num_samples"] == 64 and r["num_real"] == 359 and r["extractor"].startswith("classifier") and r["decoder"] == "encode"
        steps = [20, 40, 60, 80] if m == "micro-linear" else [20, 40]   # micro-linear: steps_factor 2
        assert r["sampler"] == ("exp-euler-4" if m == "spherical-slerp" else "euler-4") and r["nfe"] == 4 and set(r["fid_by_step"]) == set(map(str, steps))
        sets = load_sample_sets(proj / "outputs/sample" / m)
        assert list(sets) == steps and sets[steps[-1]].images.shape == (128, 1, 16, 16) and sets[steps[-1]].record["row"] == m   # 2 draws of 64
        assert sets[20].images.shape == (128, 1, 16, 16) and r["draws"] == 2 and r["fid_lo"] < r["fid"] < r["fid_hi"]   # snapshots: the same draws
    # every row and replicate draws from the same noise (common random numbers): the replicate differs by its model only
    assert metrics(proj, "sample/vanilla-linear-seed1")["vanilla-linear-seed1"]["seed"] == metrics(proj, "sample/vanilla-linear")["vanilla-linear"]["seed"]
    # spherical samples stay on the sphere: exp-map sampling of a slerp-trained model, tokens of 2x2 positions: radius sqrt(16) = 4
    x = load_sample_sets(proj / "outputs/sample/spherical-slerp")[40].latents
    assert x.shape[1:] == (16, 2, 2) and (x.norm(dim=1) - 4).abs().max() < 1e-4
    assert metrics(proj, "sample/micro-linear")["micro-linear"]["model"] == "SiT-micro/2"


def test_reference_stage(repro_project):
    proj, _ = repro_project
    ref = metrics(proj, "reference")
    assert set(ref) == {"real-train", "gaussian-latents"} and "memorized" not in ref["real-train"] and ref["gaussian-latents"]["num_samples"] == 64


def test_evaluate_spherical_stage(repro_project):
    """The same latents as sample@<row>, decoded by the finetuned decoder of each row's geometry, and the decoder swap."""
    proj, _ = repro_project
    sph = metrics(proj, "evaluate-spherical")
    ev = sph["rows"]
    assert set(ev) == {f"{m} + {'spherical-pack2' if m.startswith('spherical') else 'vanilla'} decoder" for m in ROWS} | {
        "decoder swap: spherical-slerp + vanilla decoder", "decoder swap: vanilla-linear + spherical-pack2 decoder"}
    r = ev["spherical-slerp + spherical-pack2 decoder"]
    assert r["decoder"] == "finetune-decoder/spherical-pack2" and r["paper_fid"] == 20.55 and set(r["fid_by_step"]) == {"20", "40"} and r["pack"] == 2
    assert ev["decoder swap: spherical-slerp + vanilla decoder"]["decoder"] == "finetune-decoder/vanilla"
    md = (proj / "reports/evaluate-spherical/ablation.md").read_text()
    assert "| spherical-slerp + spherical-pack2 decoder |" in md and "vanilla-linear-seed1 + vanilla decoder" in ev
    # the two seeds of vanilla-linear are one line of the table: their mean, with the t-interval
    line = next(l for l in md.splitlines() if l.startswith("| vanilla-linear + vanilla decoder |"))
    mean = (ev["vanilla-linear + vanilla decoder"]["fid"] + ev["vanilla-linear-seed1 + vanilla decoder"]["fid"]) / 2
    assert line.split(" | ")[1].startswith(f"{mean:.1f} [") and "| 2 |" in line, line
    # claims: spherical-slerp has one seed, vanilla-linear two: they cannot be paired, and Welch needs two values a side: inconclusive
    claims = sph["claims"]
    assert set(claims) == {"spherical slerp beats vanilla linear (FID)"}   # the ablation's other claims need rows the smoke does not run
    assert {c["verdict"] for c in claims.values()} == {"inconclusive"} and claims["spherical slerp beats vanilla linear (FID)"]["n_b"] == 2
    for f in ["samples.png", "convergence.png"]: assert (proj / "reports/evaluate-spherical" / f).exists(), f


def test_evaluate_stability_stage(repro_project):
    proj, _ = repro_project
    st = metrics(proj, "evaluate-stability")
    rows, base = st["rows"], metrics(proj, "sample/vanilla-linear")["vanilla-linear"]
    assert rows["subset-loss-50"]["train_samples"] == rows["subset-random-50"]["train_samples"] == 719 and base["train_samples"] == 1438
    # coarse to fine through the real pipeline: t_split 0 is the large model's row, 1 the small model's, bit for bit
    assert rows[C2F[0]]["fid"] == base["fid"] and rows[C2F[-1]]["fid"] == metrics(proj, "sample/micro-linear")["micro-linear"]["fid"]
    assert [(rows[c]["small_calls"], rows[c]["large_calls"]) for c in C2F] == [(0, 4), (2, 2), (2, 2), (3, 1), (4, 0), (4, 0)]
    # the seam-loss model (train-seam: the small model trained for t < 0.7 only) at its t_split
    seam = rows["coarse-to-fine + seam t70"]
    assert (seam["small_calls"], seam["large_calls"], seam["seam_loss"]) == (3, 1, True) and seam["fid"] != rows["coarse-to-fine t70"]["fid"]
    ts = metrics(proj, "train-seam")
    assert ts["steps"] == 80 and ts["t_split"] == 0.7 and ts["model"].startswith("SiT-micro") and ts["final_seam_term"] > 0
    assert "| 0.7 + seam loss |" in (proj / "reports/evaluate-stability/coarse_to_fine.md").read_text()
    assert list(st["pairs"]) == ["vanilla-linear vs subset-loss-50", "vanilla-linear vs subset-random-50", "vanilla-linear vs micro-linear"]
    assert all(-1 <= p["paired_mean"] <= 1 and -1 <= p["shuffled_mean"] <= 1 and p["n"] == 128 for p in st["pairs"].values())   # 2 draws of 64
    assert [st["reduced_data"][m]["full_data_method"] for m in ("subset-loss-50", "subset-random-50")] == ["vanilla-linear", "vanilla-linear"]
    assert st["coarse_to_fine"]["best_t_split"] in (0, 0.3, 0.5, 0.7, 0.9, 1)
    # one training seed per side, the same noise: the claim is tested on the paired draws (rows keep them)
    c = st["claims"]["the loss-score half beats a random half (FID)"]
    assert (c["unit"], c["design"], c["n_a"]) == ("1 training seed, 2 draws", "paired", 2) and len(rows["subset-loss-50"]["fid_draws"]) == 2
    assert st["claims"]["pruning half the data by loss score keeps FID"]["design"] == "Welch"   # 1 seed against 2: unpaired
    # coarse to fine and the seam loss are claims too, paired over the draws of their shared noise
    assert {st["claims"][k]["design"] for k in ("coarse to fine at t_split 0.7 keeps FID", "the seam loss improves coarse to fine (FID)")} == {"paired"}
    for f in ["reduced_data.md", "coarse_to_fine.md", "coarse_to_fine.png", "stability.md", "stability_pairs.png", "claims.md"]:
        assert (proj / "reports/evaluate-stability" / f).exists(), f


def test_evaluate_lirf_stage(repro_project):
    proj, _ = repro_project
    lirf = metrics(proj, "evaluate-lirf")
    few = lirf["rows"]
    assert list(few) == ["reference: the 20 few-shot images", "baseline", "baseline-seed1", "lirf-semantic", "lirf-semantic-seed1", "lirf-plain", "lirf-plain-seed1"]
    assert all({"fid", "recall", "memorized"} <= set(r) for r in few.values()) and few["reference: the 20 few-shot images"]["memorized"] == 1.0
    bank = metrics(proj, "refine-lirf")["lirf-semantic"]["bank_size"]
    assert f"| lirf-semantic | semantic | yes | {bank} |" in (proj / "reports/evaluate-lirf/few_shot.md").read_text()
    assert (proj / "reports/evaluate-lirf/few_shot_samples.png").exists()
    c = lirf["claims"]["LIRF beats the few-shot baseline (FID)"]
    assert (c["unit"], c["design"]) == ("2 training seeds", "paired")   # seeds 0 and 1 on both sides: paired by seed
    assert c["n_b"] == 2 and few["baseline-seed1"]["replicate_seed"] == 1 and "| baseline | plain | no |" in (proj / "reports/evaluate-lirf/few_shot.md").read_text()


def test_bfr_stages_write_every_row_with_its_nfe(repro_project):
    proj, _ = repro_project
    inv = metrics(proj, "refine-bfr")["inversion"]
    assert 0 <= inv["relative_error"] < 1 and inv["std"] > 0 and inv["ks_floor"] > 0
    assert (proj / "outputs/refine-bfr/inverted.safetensors").exists() and (proj / "outputs/refine-bfr/lfr/model.safetensors").exists()
    bfr = metrics(proj, "evaluate-bfr")
    nfe = {r: (v["refiner_nfe"], v["base_nfe"], v["nfe"]) for r, v in bfr["rows"].items()}
    assert nfe == {"vanilla-linear": (0, 4, 4), "vanilla-linear +lfr euler-1": (1, 4, 5), "vanilla-linear +lfr rk4-1": (4, 4, 8),
                   "vanilla-linear +lfr euler-10": (10, 4, 14), "vanilla-linear +dfr euler-1": (1, 4, 5), "vanilla-linear +dfr euler-10": (10, 4, 14),
                   "vanilla-linear +dfr-noaug euler-1": (1, 4, 5), "vanilla-linear +dfr-noaug euler-10": (10, 4, 14),
                   "micro-linear": (0, 4, 4), "micro-linear +lfr euler-1": (1, 4, 5), "micro-linear +dfr euler-10": (10, 4, 14)}, nfe
    assert all({"fid", "recall", "seconds_per_sample"} <= set(r) for r in bfr["rows"].values())
    # the base row is the sample stage's own draws, scored again: the same numbers
    assert bfr["rows"]["vanilla-linear"]["fid"] == metrics(proj, "sample/vanilla-linear")["vanilla-linear"]["fid"]
    assert {"LFR at 1 NFE lowers FID", "DFR lowers FID", "LFR transfers to a weaker base (FID)"} <= set(bfr["claims"])
    for f in ["reports/refine-bfr/inversion.md", "reports/refine-bfr/inversion_bias.png", "reports/evaluate-bfr/bfr.md",
              "reports/evaluate-bfr/before_after.png", "reports/evaluate-bfr/nfe.png"]:
        assert (proj / f).exists(), f


def test_rtm_stages_write_the_imle_rows_the_h_sweep_and_the_claims(repro_project):
    proj, _ = repro_project
    rows = ["imle-mlp", "imle-rtm", "imle-mlp-few-shot", "imle-rtm-few-shot"]
    trained = {r: metrics(proj, f"train-imle/{r}") for r in rows}
    assert {r: (t["steps"], t["train_samples"]) for r, t in trained.items()} == {"imle-mlp": (30, 1438), "imle-rtm": (30, 1438),
                                                                                 "imle-mlp-few-shot": (30, 20), "imle-rtm-few-shot": (30, 20)}
    assert abs(trained["imle-mlp"]["mapper_params"] - trained["imle-rtm"]["mapper_params"]) / trained["imle-rtm"]["mapper_params"] < 0.05
    # the few-shot rows train on LIRF's few-shot images: the same indices
    few = json.loads((proj / "outputs/refine-lirf/few_shot.json").read_text())["indices"]
    assert json.loads((proj / "outputs/train-imle/imle-rtm-few-shot/model.json").read_text())["few_shot_indices"] == few
    rtm = metrics(proj, "evaluate-rtm")
    assert list(rtm["rows"]) == rows and all({"fid", "precision", "recall", "memorized", "fid_by_step"} <= set(r) for r in rtm["rows"].values())
    assert list(rtm["rows"]["imle-rtm"]["fid_by_step"]) == ["15", "30"]   # the EMA snapshot and the final model
    assert {r: v["nfe"] for r, v in rtm["h_sweep"].items()} == {f"{r} H={h}": 2 * h for r in ("imle-rtm", "imle-rtm-few-shot") for h in (1, 2, 4)}
    assert rtm["h_sweep"]["imle-rtm H=1"]["w_displacement"] is None and rtm["h_sweep"]["imle-rtm H=4"]["w_displacement"] > 0
    assert rtm["h_sweep"]["imle-rtm H=2"]["fid"] == rtm["rows"]["imle-rtm"]["fid"]   # H of training: the row itself
    assert {"RTM raises precision over the single-pass mapper (full split)", "RTM raises recall over the single-pass mapper (few-shot)",
            "more outer steps help: H = 2 beats H = 1 (FID)", "up to a point: H = 4 is no better than H = 2 (FID)",
            "IMLE covers modes the flow baseline misses (few-shot, recall)"} <= set(rtm["claims"])
    for f in ["reports/evaluate-rtm/imle.md", "reports/evaluate-rtm/h_sweep.md", "reports/evaluate-rtm/h_sweep.png", "reports/evaluate-rtm/samples.png",
              "reports/evaluate-rtm/nearest_training.png", "reports/evaluate-rtm/convergence.png", "reports/train-imle/imle-rtm/loss.png"]:
        assert (proj / f).exists(), f


def test_evaluate_merges_every_row_and_dvc_sees_every_number(repro_project):
    proj, env = repro_project
    ev = metrics(proj, "evaluate")
    sph, st, few, bfr, imle = (metrics(proj, s)["rows"] for s in ("evaluate-spherical", "evaluate-stability", "evaluate-lirf", "evaluate-bfr", "evaluate-rtm"))
    # a row name met twice (the BFR stage's base rows) is prefixed with its group
    assert set(ev) == {"real-train", "gaussian-latents", *ROWS, *sph, *st, *few, *(f"bfr: {r}" if r in ROWS else r for r in bfr), *imle}
    assert ev["vanilla-linear"]["fid"] == metrics(proj, "sample/vanilla-linear")["vanilla-linear"]["fid"]
    table = (proj / "reports/evaluate/table.md").read_text()
    assert "| spherical-slerp | baseline |" in table and "64 samples per draw, 2 draw(s) per row, against 359 reference images" in table
    shown = run("dvc metrics show --json", proj, env=env).stdout
    assert "vanilla-linear vs subset-loss-50" in shown and "paired_mean" in shown   # the same-seed pairs: dicts, so DVC shows them
    claims = json.loads((proj / "outputs/evaluate/table.json").read_text())["claims"]
    assert {c["stage"] for c in claims.values()} == {"spherical", "stability", "lirf (few-shot)", "bfr", "rtm (imle)"} and "| claim | stage |" in table
    for f in ["reports/evaluate/samples.png", "reports/evaluate/training_curves.png", "reports/evaluate/convergence.png"]:
        assert (proj / f).exists(), f


def test_every_metrics_file_is_visible_to_dvc(repro_project):
    """DVC skips list values in metrics files: every result is a dict of dicts of scalars."""
    from refine_lib.evaluation import check_metrics
    proj, _ = repro_project
    files = sorted((proj / "metrics").rglob("*.json"))
    assert len(files) >= 20
    for f in files: check_metrics(json.loads(f.read_text()), str(f.relative_to(proj)))


def test_second_repro_is_a_noop_and_scores_are_cached(repro_project):
    proj, env = repro_project
    out = run("dvc repro", proj, env=env).stdout
    assert "up to date" in out, out
    assert "up to date" in run("dvc status", proj, env=env).stdout
    # scores are cached per dataset: a forced rerun of the stage reuses them, and nothing downstream changes
    run("dvc repro -f -s scores", proj, env=env)
    assert metrics(proj, "scores")["reused"]
    assert "up to date" in run("dvc status", proj, env=env).stdout


def test_bad_input_fails_clearly_and_keeps_outputs(repro_project):
    proj, env = repro_project
    kept = (proj / "outputs/encode/latents_train.safetensors").read_bytes()
    metrics = (proj / "metrics/encode.json").read_text()
    text = (proj / "params.yaml").read_text()
    (proj / "params.yaml").write_text(text.replace("kl_weight:", "kl_wieght:"))
    p = run("dvc repro", proj, env=env, check=False)
    assert p.returncode != 0 and "unknown key 'encode.kl_wieght'; did you mean 'encode.kl_weight'?" in p.stdout
    assert (proj / "outputs/encode/latents_train.safetensors").read_bytes() == kept
    (proj / "params.yaml").write_text(text)
    bad = proj / "data" / "train" / "3" / "9999.png"; bad.write_bytes(b"not an image")
    p = run("dvc repro", proj, env=env, check=False)
    assert p.returncode != 0 and "9999.png: cannot read this image" in p.stdout
    assert (proj / "outputs/encode/latents_train.safetensors").read_bytes() == kept
    assert (proj / "metrics/encode.json").read_text() == metrics
    bad.unlink()
    # dvc re-records data.dvc when data/ changes; with the bad file gone the data hash is the one encode ran on
    out = run("dvc repro", proj, env=env).stdout
    assert "Running stage 'encode'" not in out, out
    assert run("git diff --stat data.dvc", proj).stdout.strip() == ""


# what the resume test changes; restored afterwards so that later tests find the smoke project up to date (no retraining)
RESUME_TOUCHES = ["params.yaml", "dvc.lock", "metrics/train/spherical-slerp.json", "reports/notebooks/train-spherical-slerp.ipynb",
                  "reports/train/spherical-slerp", "outputs/train/spherical-slerp"]


def _copy(src, dst):
    import shutil
    if dst.is_dir(): shutil.rmtree(dst)
    elif dst.exists(): dst.unlink()
    dst.parent.mkdir(parents=True, exist_ok=True)
    # copies get a new mtime: DVC's state cache (inode, mtime, size) must not take a restored file for the one it replaced
    shutil.copytree(src, dst, copy_function=shutil.copy) if src.is_dir() else shutil.copy(src, dst)


def test_train_stage_resumes_after_kill_with_identical_weights(repro_project, tmp_path):
    """Kill `dvc repro` of the train stage after its first checkpoint, rerun it: the final weights equal those of an
    uninterrupted run."""
    proj, env = repro_project
    for p in RESUME_TOUCHES: _copy(proj / p, tmp_path / "backup" / p)
    try:
        _resume_after_kill(proj, env)
    finally:
        for p in RESUME_TOUCHES: _copy(tmp_path / "backup" / p, proj / p)
    # the stage is back where the test found it (`dvc status` without --with-deps: this stage only)
    assert "up to date" in run("dvc status train@spherical-slerp", proj, env=env).stdout


def _resume_after_kill(proj, env):
    import os, signal, subprocess, time
    from conftest import BIN
    out = proj / "outputs/train/spherical-slerp"
    p = yaml.safe_load((proj / "params.yaml").read_text())
    p["train"]["steps"] = 160; (proj / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    run("rm -rf outputs/train/spherical-slerp", proj)
    e = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", PYTHONPATH=str(proj))
    # dvc itself is the child (no shell), so that wait() reaps it: DVC frees the stage lock of a dead PID, not of a zombie
    proc = subprocess.Popen([str(BIN / "dvc"), "repro", "train@spherical-slerp"], cwd=proj, env=e, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = out / "checkpoints" / "checkpoint.safetensors"
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None: time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed; raise the smoke steps"
    os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    from refine_lib.training import read_checkpoint
    _, meta = read_checkpoint(ckpt)
    killed_at = int(meta["step"]); assert 0 < killed_at < 160
    log = run("dvc repro train@spherical-slerp", proj, env=env).stdout
    resumed = json.loads((proj / "metrics/train/spherical-slerp.json").read_text())["resumed_from"]
    assert resumed is not None and resumed >= killed_at, log
    resumed_weights = (out / "model.safetensors").read_bytes()
    run("rm -rf outputs/train/spherical-slerp && dvc repro -f train@spherical-slerp", proj, env=env)   # uninterrupted
    assert json.loads((proj / "metrics/train/spherical-slerp.json").read_text())["resumed_from"] is None
    assert (out / "model.safetensors").read_bytes() == resumed_weights


ENCODE_TOUCHES = ["params.yaml", "dvc.lock", "metrics/encode.json", "reports/notebooks/encode.ipynb", "reports/encode", "outputs/encode"]


def test_encode_stage_resumes_after_kill_with_identical_weights(repro_project, tmp_path):
    """Kill `dvc repro encode` mid autoencoder training (after its first checkpoint), rerun it: it resumes there and the
    autoencoder equals the one of an uninterrupted run, byte for byte."""
    import os, signal, subprocess, time
    from conftest import BIN
    from refine_lib.training import read_checkpoint
    proj, env = repro_project
    status_before = run("dvc status encode", proj, env=env).stdout
    for p in ENCODE_TOUCHES: _copy(proj / p, tmp_path / "backup" / p)
    try:
        p = yaml.safe_load((proj / "params.yaml").read_text())
        p["encode"]["steps"] = 300; (proj / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))   # checkpoints at 100, 200, 300
        out, ckpt = proj / "outputs/encode", proj / "outputs/encode/checkpoints/checkpoint.safetensors"
        run("rm -rf outputs/encode/checkpoints", proj)
        e = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", PYTHONPATH=str(proj))
        proc = subprocess.Popen([str(BIN / "dvc"), "repro", "encode"], cwd=proj, env=e, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while not ckpt.exists() and time.time() < deadline and proc.poll() is None: time.sleep(0.05)
        assert proc.poll() is None, "encode finished before it could be killed; raise the steps"
        os.killpg(proc.pid, signal.SIGKILL); proc.wait()
        killed_at = int(read_checkpoint(ckpt)[1]["step"]); assert 0 < killed_at < 300
        log = run("dvc repro encode", proj, env=env).stdout
        resumed = metrics(proj, "encode")["resumed_from"]
        assert resumed is not None and resumed >= killed_at, log
        weights = (out / "autoencoder/diffusion_pytorch_model.safetensors").read_bytes()
        run("rm -rf outputs/encode && dvc repro -f encode", proj, env=env)   # uninterrupted
        assert metrics(proj, "encode")["resumed_from"] is None
        assert (out / "autoencoder/diffusion_pytorch_model.safetensors").read_bytes() == weights
    finally:
        for p in ENCODE_TOUCHES: _copy(tmp_path / "backup" / p, proj / p)
    assert run("dvc status encode", proj, env=env).stdout == status_before   # left as it was found


def test_train_stage_on_two_processes(repro_project, tmp_path):
    """`train.processes: 2` trains a row on two CPU processes (gloo) launched from the stage notebook: the stage ends with
    a model, one checkpoint, and the per-rank RNG states in it."""
    proj, env = repro_project
    touches = ["params.yaml", "dvc.lock", "metrics/train/micro-linear.json", "reports/notebooks/train-micro-linear.ipynb",
               "reports/train/micro-linear", "outputs/train/micro-linear"]
    for p in touches: _copy(proj / p, tmp_path / "backup" / p)
    try:
        p = yaml.safe_load((proj / "params.yaml").read_text())
        p["train"]["processes"] = 2; (proj / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
        log = run("dvc repro train@micro-linear", proj, env=env).stdout
        assert "Running stage 'train@micro-linear'" in log, log
        from refine_lib.evaluation import load_trained
        from refine_lib.training import read_checkpoint
        model, info = load_trained(proj / "outputs/train/micro-linear")
        assert info["steps"] == 80
        tensors, meta = read_checkpoint(proj / "outputs/train/micro-linear/checkpoints/checkpoint.safetensors")
        assert meta["step"] == "80" and {"rng.generator.0", "rng.generator.1"} <= set(tensors)
        assert json.loads(meta["settings"])["loop"]["processes"] == 2
    finally:
        for p in touches: _copy(tmp_path / "backup" / p, proj / p)
    assert "up to date" in run("dvc status train@micro-linear", proj, env=env).stdout


def test_exp_run_switches_a_rows_path_and_geometry(repro_project):
    """`dvc exp run -S` changes one row of the ablation: only that method retrains, and its row reports the new geometry;
    a sampling setting reruns no training; a combination that makes no sense (slerp on vanilla latents) fails naming the key."""
    proj, env = repro_project
    env = dict(env, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    run("dvc repro && git add -A && git commit -qm smoke", proj, env=env)   # up to date: earlier tests restored what they changed
    p = yaml.safe_load((proj / "params.yaml").read_text()); p["sample"]["sampler"] = "heun"
    (proj / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    status = run("dvc status", proj, env=env).stdout   # how we sample is not how we train
    assert "sample@vanilla-linear" in status and "train@" not in status, status
    run("git checkout -- params.yaml", proj, env=env)
    # a row and its replicates change together (a replicate may differ in its seed only: the config refuses anything else)
    out = run("dvc exp run -S methods.spherical-slerp.path=linear -S methods.spherical-slerp-seed1.path=linear -S methods.spherical-slerp-seed2.path=linear",
              proj, env=env).stdout
    assert "Running stage 'train@spherical-slerp'" in out and "Running stage 'train@vanilla-linear'" not in out, out
    row = json.loads((proj / "metrics/sample/spherical-slerp.json").read_text())["spherical-slerp"]
    assert (row["path"], row["geometry"], row["sampler"], row["decoder"]) == ("linear", "spherical", "euler-4", "encode")
    assert "spherical-slerp + spherical-pack2 decoder" in json.loads((proj / "metrics/evaluate-spherical.json").read_text())["rows"]
    p = run("dvc exp run -S methods.vanilla-linear.path=slerp", proj, env=env, check=False)
    assert p.returncode != 0 and "methods.vanilla-linear: path 'slerp' needs geometry 'spherical'" in p.stdout, p.stdout[-2000:]
    run("git checkout -- params.yaml", proj, env=env)   # the last test of the module: no need to rerun the pipeline
