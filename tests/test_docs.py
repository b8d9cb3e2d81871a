"""Build the docs site offline and open every notebook's page in headless Chromium: each shows its title and a figure."""
import json, re, shutil
from pathlib import Path
import pytest
from conftest import ROOT, copy_project, run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update "
         "--disable-sync --no-first-run --disable-quic")


def notebook_title(nb_path):
    nb = json.loads(Path(nb_path).read_text())
    for c in nb["cells"]:
        if c["cell_type"] == "markdown":
            m = re.search(r"^# (.+)$", "".join(c["source"]), re.M)
            if m: return m.group(1).strip()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make browser` installs it)")
def test_site_renders_each_notebook_with_title_and_figure(tmp_path):
    proj = copy_project(tmp_path / "proj")
    run("make docs", proj, timeout=900)
    site = proj / "_site"
    pages = {p.stem: p for p in sorted((proj / "nbs").glob("*.ipynb"))}
    assert len(pages) >= 5
    for stem, nb in pages.items():
        html = site / f"{stem}.html"
        assert html.exists(), f"no page for {nb.name}"
        profile = tmp_path / f"chrome-{stem}"
        dom = run(f"{CHROMIUM} {FLAGS} --user-data-dir={profile} --virtual-time-budget=3000 --dump-dom file://{html}", proj, timeout=120).stdout
        title = notebook_title(nb)
        h1 = re.search(r"<h1[^>]*>(.*?)</h1>", dom, re.S)
        assert h1 and title in re.sub(r"<[^>]+>", "", h1.group(1)), f"{stem}: title {title!r} not rendered"
        imgs = re.findall(r'<img[^>]+src="(_images/[^"]+\.png)"', dom)
        assert imgs, f"{stem}: no figure rendered"
        assert all((site / src).stat().st_size > 1000 for src in imgs), f"{stem}: empty figure file"
    run(f"{CHROMIUM} {FLAGS} --user-data-dir={tmp_path/'shot'} --window-size=1280,1000 --screenshot={tmp_path/'index.png'} file://{site/'index.html'}", proj, timeout=120)
    assert (tmp_path / "index.png").stat().st_size > 10_000
