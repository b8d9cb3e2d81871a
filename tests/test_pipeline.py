"""`dvc repro` of a smoke parameter set in a fresh copy of the project: outputs, a no-op second run, and bad input
(a typo in params.yaml, a corrupt image) failing clearly without losing what was already computed."""
import json
import pytest, yaml
from PIL import Image
from conftest import copy_project, run

# the smoke parameter set: every stage runs, on the real default data, in well under a minute each
SMOKE = {"encode": {"steps": 20, "batch_size": 32},
         "features": {"steps": 30, "batch_size": 64},
         "train": {"steps": 40, "batch_size": 32, "checkpoint_every": 20, "warmup_steps": 5, "log_every": 5},
         "evaluate": {"sampling_steps": 4, "num_samples": 64}}


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
    run("dvc repro", project, env=env, timeout=900)
    return project, env


def test_repro_smoke_end_to_end(repro_project):
    proj, env = repro_project
    ev = json.loads((proj / "metrics" / "evaluate.json").read_text())
    assert set(ev) == {"reference: real train", "reference: gaussian latents", "sit-linear"}
    for row in ev.values():
        assert {"fid", "precision", "recall", "density", "coverage", "extractor", "num_samples", "sampler", "nfe"} <= set(row)
        assert row["num_samples"] == 64 and row["extractor"].startswith("classifier")
    assert ev["sit-linear"]["nfe"] == 4 and ev["sit-linear"]["sampler"] == "euler-4"
    assert "| sit-linear |" in (proj / "reports/evaluate/table.md").read_text()
    assert json.loads((proj / "metrics/features.json").read_text())["test_accuracy"] > 0.5
    assert json.loads((proj / "metrics/train/sit-linear.json").read_text())["steps"] == 40
    m = json.loads((proj / "metrics" / "encode.json").read_text())
    assert m["n_train"] == 1438 and m["n_test"] == 359 and m["latent_shape"] == [4, 4, 4] and m["train_steps"] == 20
    for f in ["outputs/encode/autoencoder/diffusion_pytorch_model.safetensors", "outputs/encode/latents_train.safetensors",
              "outputs/encode/latents_test.safetensors", "reports/encode/reconstructions.png", "reports/notebooks/encode.ipynb",
              "outputs/train/sit-linear/model.safetensors", "reports/evaluate/samples.png", "reports/evaluate/training_curves.png"]:
        assert (proj / f).exists(), f
    from refine_lib.data import load_latents
    z, y, stats = load_latents(proj / "outputs/encode/latents_train.safetensors")
    assert z.shape == (1438, 4, 4, 4) and y.shape == (1438,) and stats.mean.shape == (4,)
    out = run("dvc repro", proj, env=env).stdout
    assert "up to date" in out, out
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


def test_train_stage_resumes_after_kill_with_identical_weights(repro_project):
    """Kill `dvc repro` of the train stage after its first checkpoint, rerun it: the final weights equal those of an
    uninterrupted run."""
    import os, signal, subprocess, time
    from conftest import BIN
    proj, env = repro_project
    out = proj / "outputs/train/sit-linear"
    p = yaml.safe_load((proj / "params.yaml").read_text())
    p["train"]["steps"] = 160; (proj / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    run("rm -rf outputs/train/sit-linear", proj)
    e = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", PYTHONPATH=str(proj))
    # dvc itself is the child (no shell), so that wait() reaps it: DVC frees the stage lock of a dead PID, not of a zombie
    proc = subprocess.Popen([str(BIN / "dvc"), "repro", "train@sit-linear"], cwd=proj, env=e, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = out / "checkpoints" / "checkpoint.safetensors"
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None: time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed; raise the smoke steps"
    os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    from refine_lib.training import read_checkpoint
    _, meta = read_checkpoint(ckpt)
    killed_at = int(meta["step"]); assert 0 < killed_at < 160
    log = run("dvc repro train@sit-linear", proj, env=env).stdout
    resumed = json.loads((proj / "metrics/train/sit-linear.json").read_text())["resumed_from"]
    assert resumed is not None and resumed >= killed_at, log
    resumed_weights = (out / "model.safetensors").read_bytes()
    run("rm -rf outputs/train/sit-linear && dvc repro -f train@sit-linear", proj, env=env)   # uninterrupted
    assert json.loads((proj / "metrics/train/sit-linear.json").read_text())["resumed_from"] is None
    assert (out / "model.safetensors").read_bytes() == resumed_weights
