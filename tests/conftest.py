"""Shared fixtures: the project root, a throw-away copy of the project, and the venv's tools on PATH."""
import os, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent   # the venv's bin: dvc, nbdev-*, python


def run(cmd, cwd, check=True, timeout=900, env=None):
    "Run a shell command with the venv first on PATH; return the CompletedProcess (stdout+stderr in .stdout)."
    e = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", HF_HUB_OFFLINE="1", PYTHONHASHSEED="0", **(env or {}))
    p = subprocess.run(cmd, cwd=cwd, shell=True, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"`{cmd}` failed with {p.returncode}:\n{p.stdout[-4000:]}")
    return p


def copy_project(dest: Path) -> Path:
    "Copy what a fresh clone would hold (tracked and not-ignored files, as in the working tree) to `dest`, as a new git repo."
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, text=True,
                           stdout=subprocess.PIPE, check=True).stdout.split("\0")
    for f in filter(None, files):
        src = ROOT / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    run("git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm copy", dest)
    return dest


@pytest.fixture
def project(tmp_path):
    "A fresh copy of the project in a temporary folder (no data/, no outputs)."
    return copy_project(tmp_path / "proj")
