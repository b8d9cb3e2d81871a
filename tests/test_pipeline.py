"""`dvc repro` of a smoke parameter set in a fresh copy of the project: outputs, a no-op second run, and bad input
(a typo in params.yaml, a corrupt image) failing clearly without losing what was already computed."""
import json
import pytest, yaml
from PIL import Image
from conftest import copy_project, run

SMOKE = {"encode": {"steps": 20, "batch_size": 32}}


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
    m = json.loads((proj / "metrics" / "encode.json").read_text())
    assert m["n_train"] == 1438 and m["n_test"] == 359 and m["latent_shape"] == [4, 8, 8] and m["train_steps"] == 20
    for f in ["outputs/encode/autoencoder/diffusion_pytorch_model.safetensors", "outputs/encode/latents_train.safetensors",
              "outputs/encode/latents_test.safetensors", "reports/encode/reconstructions.png", "reports/notebooks/encode.ipynb"]:
        assert (proj / f).exists(), f
    from refine_lib.data import load_latents
    z, y, stats = load_latents(proj / "outputs/encode/latents_train.safetensors")
    assert z.shape == (1438, 4, 8, 8) and y.shape == (1438,) and stats.mean.shape == (4,)
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
