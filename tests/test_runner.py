"""The stage runner from the command line: a failing cell fails the stage with the cell's error; bad params fail first."""
import json
import nbformat
from nbformat.v4 import new_code_cell, new_notebook
from conftest import run


def make_stage(root, body):
    (root / "nbs" / "stages").mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=[new_code_cell("seed = 0\ndata = {}\nencode = {}", metadata={"tags": ["parameters"]}), new_code_cell(body)],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, root / "nbs" / "stages" / "encode.ipynb")
    (root / "params.yaml").write_text("seed: 7\nencode:\n  steps: 3\n")


def test_failing_cell_fails_the_stage(tmp_path):
    make_stage(tmp_path, "import json, pathlib\npathlib.Path(metrics_file).write_text('{}')\nraise RuntimeError('the cell broke: ' + str(encode['steps']))")
    p = run("python -m refine_lib.runner encode", tmp_path, check=False)
    assert p.returncode == 1
    assert "stage 'encode' failed in cell" in p.stdout and "RuntimeError: the cell broke: 3" in p.stdout
    failed = tmp_path / "reports" / "notebooks" / "encode.failed.ipynb"
    assert failed.exists() and not (tmp_path / "reports" / "notebooks" / "encode.ipynb").exists()


def test_successful_stage_gets_only_its_params_and_is_stable(tmp_path):
    make_stage(tmp_path, "import json, pathlib\npathlib.Path(metrics_file).write_text(json.dumps({'seed': seed, 'steps': encode['steps'], 'names': sorted(k for k in globals() if not k.startswith('_'))}))")
    run("python -m refine_lib.runner encode", tmp_path)
    m = json.loads((tmp_path / "metrics" / "encode.json").read_text())
    assert m["seed"] == 7 and m["steps"] == 3
    # exactly its sections and its paths, nothing else (the notebook's own imports aside)
    ipython = {"In", "Out", "exit", "quit", "get_ipython", "open"}   # the kernel's own names
    assert set(m["names"]) - ipython == {"seed", "data", "encode", "out_dir", "report_dir", "metrics_file", "json", "pathlib"}, m["names"]
    out = tmp_path / "reports" / "notebooks" / "encode.ipynb"
    first = out.read_bytes()
    run("python -m refine_lib.runner encode", tmp_path)
    assert out.read_bytes() == first
    nb = nbformat.read(out, as_version=4)
    assert "start_time" not in nb.metadata.papermill and all("execution" not in c.metadata for c in nb.cells)


def test_bad_params_fail_before_the_notebook_runs(tmp_path):
    make_stage(tmp_path, "import pathlib\npathlib.Path('ran').write_text('yes')")
    (tmp_path / "params.yaml").write_text("seed: 0\nencode:\n  stepz: 3\n")
    p = run("python -m refine_lib.runner encode", tmp_path, check=False)
    assert p.returncode == 1 and "did you mean 'encode.steps'" in p.stdout and not (tmp_path / "ran").exists()


def test_stage_command_finds_the_project_python_and_sets_threads(tmp_path):
    """`bin/refine-stage` (the command of every stage in dvc.yaml) runs with the project's .venv even when the shell has
    no venv on PATH (the README's `.venv/bin/dvc repro` case), and the stage kernel gets the thread settings."""
    import os, shutil, subprocess
    from conftest import ROOT
    make_stage(tmp_path, "import json, os, pathlib\npathlib.Path(metrics_file).write_text(json.dumps({k: os.environ.get(k) for k in "
                         "('OMP_WAIT_POLICY', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS')}))")
    (tmp_path / "bin").mkdir(); shutil.copy2(ROOT / "bin" / "refine-stage", tmp_path / "bin" / "refine-stage")
    os.symlink(ROOT / ".venv", tmp_path / ".venv")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"   # no venv on PATH
    p = subprocess.run(["bin/refine-stage", "encode"], cwd=tmp_path, env=env | {"REFINE_THREADS": "1"}, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0, p.stdout[-3000:]
    assert json.loads((tmp_path / "metrics" / "encode.json").read_text()) == {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    p = subprocess.run(["bin/refine-stage", "encode"], cwd=tmp_path, env=env | {"REFINE_THREADS": "0"}, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode != 0 and "REFINE_THREADS='0': expected a whole number >= 1" in p.stdout


def test_matrix_stages_get_their_row_and_write_where_their_notebook_does():
    from refine_lib.config import Params, stage_parameters
    from refine_lib.runner import stage_paths
    p = Params()
    got = stage_parameters(p, "train-subset", "subset-loss-50")
    assert set(got) == {"seed", "train", "method", "method_cfg"} and got["method"] == "subset-loss-50" and got["method_cfg"]["subset"] == "loss"
    assert stage_paths("train-subset", "subset-loss-50") == stage_paths("train", "subset-loss-50")
    assert stage_paths("train-subset", "subset-loss-50")["out_dir"] == "outputs/train/subset-loss-50"
    assert set(stage_parameters(p, "sample", "vanilla-linear")) == {"seed", "data", "features", "sample", "score", "method"}
    got = stage_parameters(p, "evaluate")
    assert set(got) == {"rows", "score"} and got["rows"] == {"train": p.rows.train, "reduced": p.rows.reduced} and got["score"]["confidence"] == 0.95
    assert set(stage_parameters(p, "train-seam")) == {"seed", "train", "coarse_to_fine"}
    assert stage_parameters(p, "scores")["rows"] == {"reduced": p.rows.reduced}
