"""The README's own-data recipe, typed as written into a fresh copy of the project, up to the first stages: a labelled
set in class folders, and a flat 10-image RGB set (a few-shot set: no test split, a label-free metric network)."""
import json, os, re
import numpy as np, yaml
from PIL import Image
from conftest import ROOT, copy_project, run

SMOKE = {"encode": {"steps": 5, "batch_size": 16}, "features": {"steps": 5, "batch_size": 16}}


def recipe_lines():
    "The shell lines of the README's own-data recipe (the code block after the `own-data-recipe` marker)."
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- own-data-recipe -->\s*```bash\n(.*?)```", readme, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def follow_recipe(proj, images, params):
    """Run the recipe's lines in `proj` (one shell, as a user types them), with `images` as the user's folder and the
    params edit the recipe asks for; `make repro` (the whole pipeline) is replaced by its first stages."""
    lines = recipe_lines()
    assert lines[0] == "make venv" and lines[1] == "source .venv/bin/activate" and lines[-1] == "make repro", lines
    os.symlink(ROOT / ".venv", proj / ".venv")   # the venv this suite runs in: `make venv` finds it installed
    p = yaml.safe_load((proj / "params.yaml").read_text())
    for section, values in {**SMOKE, **params}.items(): p[section].update(values)
    (proj / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    script = [line.replace("/path/to/your/images", str(images)) for line in lines[:-1]] + ["dvc repro encode features"]
    (proj.parent / "recipe.sh").write_text("set -e\n" + "\n".join(script) + "\n")   # bash, as a user's terminal
    return run(f"bash {proj.parent / 'recipe.sh'}", proj, env={"PYTHONPATH": str(proj), "REFINE_THREADS": "1"}, timeout=900)


def test_recipe_labelled_class_folders(tmp_path):
    images = tmp_path / "my-images"
    rng = np.random.RandomState(0)
    for c in range(3):   # 3 classes x 70 greyscale images of different sizes: over few_shot_below, so a test split is cut
        (images / f"class{c}").mkdir(parents=True)
        for i in range(70):
            a = (rng.rand(12 + i % 5, 12) * 60).astype(np.uint8); a[2 + 3 * c:5 + 3 * c, 2:10] = 255
            Image.fromarray(a).save(images / f"class{c}" / f"{i}.png")
    proj = copy_project(tmp_path / "proj")
    follow_recipe(proj, images, {"data": {"image_size": 8}})
    assert "data" in yaml.safe_load((proj / "data.dvc").read_text())["outs"][0]["path"]
    m = json.loads((proj / "metrics/encode.json").read_text())
    assert (m["n_train"], m["n_test"], m["few_shot_set"], m["latent_shape"]) == (168, 42, False, {"channels": 4, "height": 2, "width": 2})
    f = json.loads((proj / "metrics/features.json").read_text())
    assert f["extractor"] == "classifier" and "test_accuracy" in f


def test_recipe_flat_rgb_few_shot_set(tmp_path):
    images = tmp_path / "faces"; images.mkdir()
    rng = np.random.RandomState(1)
    for i in range(10):
        Image.fromarray((rng.rand(40, 30, 3) * 255).astype(np.uint8)).save(images / f"face{i}.png")
    proj = copy_project(tmp_path / "proj")
    follow_recipe(proj, images, {"data": {"channels": 3}})
    m = json.loads((proj / "metrics/encode.json").read_text())
    assert (m["n_train"], m["n_test"], m["few_shot_set"]) == (10, 10, True)
    f = json.loads((proj / "metrics/features.json").read_text())
    assert (f["extractor"], f["name"], f["few_shot_set"]) == ("ssl", "ssl-64d", True)
    assert (proj / "outputs/features/ssl.safetensors").exists()
    assert json.loads((proj / "outputs/features/extractor.json").read_text())["extractor"] == "ssl"
