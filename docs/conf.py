"""Sphinx configuration for the refine-lab site, built offline from nbdev's processed notebooks (`_proc/`).

`make docs` runs `nbdev-proc-nbs` (which writes `_proc/`) and then `sphinx-build -c docs _proc _site`.
Quarto, which `nbdev-docs` needs, cannot be installed offline; myst-nb renders the same notebooks. The notebooks
are rendered with their stored outputs (they are committed executed), nothing is re-run here.
"""
import json, re, sys
from pathlib import Path
import yaml

project = "refine-lab"
author = "refine-lab"
copyright = "2026, refine-lab"
extensions = ["myst_nb"]
html_theme = "furo"
html_title = "refine-lab"
root_doc = "index"
nb_execution_mode = "off"
nb_render_markdown_format = "myst"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
# `$$...$$` inside a paragraph (text, then a display equation, then more text) is display math, as in Jupyter;
# without this MyST reads it as `$` + inline math + `$` and can swallow the text after it
myst_dmath_double_inline = True
exclude_patterns = ["stages/**", "_quarto.yml", "nbdev.yml", "sidebar.yml", "**/.ipynb_checkpoints"]
# show_doc's Markdown uses `---` rules inside outputs, which docutils calls misplaced transitions
suppress_warnings = ["misc.highlighting_failure", "myst.header", "mystnb.unknown_mime_type", "docutils"]
# MathJax served from the site itself (offline): the PyPI package sphinx-mathjax-offline ships MathJax 3, but in a
# folder whose hyphenated name cannot be imported as a Sphinx extension, so we point Sphinx at its files directly.
from importlib.metadata import distribution
_mj = Path(distribution("sphinx-mathjax-offline").locate_file("sphinx-mathjax-offline")) / "static"
html_static_path = [str(_mj)] if _mj.is_dir() else []
mathjax_path = "mathjax/tex-chtml.js"

SRC = Path(__file__).resolve().parent.parent / "_proc"   # Sphinx runs this file from docs/
DIRECTIVE = re.compile(r"^#\|\s*(.*)$")


def _frontmatter_to_title(cell):
    "nbdev moves the `# title` and `> description` lines into a Quarto front-matter cell; put them back as Markdown."
    text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    fm = yaml.safe_load(text.strip().strip("-")) or {}
    md = f"# {fm.get('title', '')}\n\n" + (f"> {fm['description']}\n" if fm.get("description") else "")
    return {"cell_type": "markdown", "metadata": {}, "source": md, "id": cell.get("id", "title")}


def _clean_code_cell(cell):
    "Drop `#| ...` directive lines; `echo: false` hides the input (show_doc cells)."
    lines = (cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])).splitlines()
    directives = [DIRECTIVE.match(l).group(1) for l in lines if DIRECTIVE.match(l)]
    cell["source"] = "\n".join(l for l in lines if not DIRECTIVE.match(l))
    if any(d.replace(" ", "") in ("echo:false", "hide") for d in directives):
        cell.setdefault("metadata", {}).setdefault("tags", []).append("remove-input")
    return cell


def prepare_notebooks(src: Path):
    "Rewrite `_proc/*.ipynb` in place for myst-nb, and write the site's table of contents."
    pages = []
    for nb_path in sorted(src.glob("*.ipynb")):
        nb = json.loads(nb_path.read_text())
        cells = []
        for cell in nb["cells"]:
            if cell["cell_type"] == "raw" and "".join(cell["source"]).lstrip().startswith("---"):
                cells.append(_frontmatter_to_title(cell))
            elif cell["cell_type"] == "markdown" and "DO NOT EDIT" in "".join(cell["source"]):
                continue
            elif cell["cell_type"] == "code":
                cell.get("metadata", {}).pop("execution", None)  # nbdev's timing floats break nbformat validation
                cells.append(_clean_code_cell(cell))
            else:
                cells.append(cell)
        nb["cells"] = cells
        nb_path.write_text(json.dumps(nb, indent=1))
        if nb_path.stem != "index": pages.append(nb_path.stem)
    # the home page is the index notebook; its (hidden) toctree lists every library page in order
    index = src / "index.ipynb"
    nb = json.loads(index.read_text())
    toc = "```{toctree}\n:hidden:\n:maxdepth: 1\n\n" + "\n".join(pages) + "\n```\n"
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "## Pages\n\n" + "\n".join(
        f"- [{p.split('_', 1)[-1]}]({p}.ipynb)" for p in pages) + "\n\n" + toc, "id": "site-toc"})
    index.write_text(json.dumps(nb, indent=1))


if SRC.is_dir() and not (SRC / ".prepared").exists():
    prepare_notebooks(SRC)
    (SRC / ".prepared").write_text("")
