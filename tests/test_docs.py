"""Build the docs site offline (once per session) and open every notebook's page in headless Chromium: each shows its
title, its description, a figure, and every prose paragraph of the notebook's markdown cells."""
import html, json, re, shutil, warnings
from html.parser import HTMLParser
from pathlib import Path
import pytest
from conftest import ROOT, copy_project, run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update "
         "--disable-sync --no-first-run --disable-quic")
NOTEBOOKS = sorted(p.stem for p in (ROOT / "nbs").glob("*.ipynb"))
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make browser` installs it)")


def cell_sources(nb_path):
    "(index, source) of each markdown cell of a notebook."
    nb = json.loads(Path(nb_path).read_text())
    return [(i, "".join(c["source"])) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"]


def notebook_title(nb_path):
    for _, src in cell_sources(nb_path):
        m = re.search(r"^# (.+)$", src, re.M)
        if m: return m.group(1).strip()


def notebook_description(nb_path):
    "The `> ...` line of the first cell (nbdev's description)."
    m = re.search(r"^>\s*(.+)$", cell_sources(nb_path)[0][1], re.M)
    return m and m.group(1).strip()


# ---- normalisation: both sides become a sequence of lower-case words, math and markup removed ----
CUT = "\x00"   # where math or markup was: a paragraph's "clean runs" of words lie between these
MATH = [r"\$\$.+?\$\$", r"\\\(.+?\\\)", r"\\begin\{(\w+\*?)\}.+?\\end\{\1\}",
        r"(?<![\\$\w])\$(?=\S)(?:[^$\\\n]|\\.)+?(?<=\S)\$(?!\d)"]
MATH_RE = re.compile("|".join(f"(?:{m})" for m in MATH), re.S)   # in Markdown `\[` is an escaped bracket
PAGE_MATH_RE = re.compile("|".join(f"(?:{m})" for m in MATH + [r"\\\[.+?\\\]"]), re.S)   # TeX left in a page
QUIRK = re.compile(r"\[\^[^\]]+\]")   # a footnote reference: renders as a number inside its paragraph


def words(text):
    "Lower-case words (letters and digits); everything else, `_` included, separates them."
    return re.sub(r"[\W_]+", " ", text.lower()).split()


def _inline_md(text):
    "Rendered text of a Markdown span outside code: math, links, emphasis, html and escapes removed."
    text = MATH_RE.sub(f" {CUT} ", text)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", f" {CUT} ", text)                       # inline image
    text = re.sub(r"\[\^[^\]]+\]", CUT, text)                                        # footnote reference
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\[[^\]]*\]",                  # [text](url), [text][ref]
                  lambda m: f"{CUT}{m.group(1) or m.group(2) or ''}{CUT}", text)
    text = re.sub(r"<((?:https?|mailto):[^>\s]+)>", r"\1", text)                     # autolink
    text = re.sub(r"</?[A-Za-z][^>]*>", CUT, text)                                   # raw html tag
    text = re.sub(r"\*\*|__|(?<![\w*])[*_](?=\S)|(?<=\S)[*_](?![\w*])", CUT, text)  # emphasis markers
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)                             # backslash escapes
    return html.unescape(text)


def md_paragraphs(src):
    "Prose paragraphs of a markdown cell (blocks between blank lines): no code fences, tables, pure math or images."
    src = re.sub(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n.*?^ {0,3}\1[`~]*[ \t]*$", "\n", src, flags=re.M | re.S)
    src = re.sub(r"\$\$.+?\$\$|\\begin\{(\w+\*?)\}.+?\\end\{\1\}", f" {CUT} ", src, flags=re.S)  # display math
    paras = []
    for block in re.split(r"\n\s*\n", src):
        lines = [l for l in block.splitlines() if l.strip()]
        if not lines or all(l.lstrip().startswith("|") for l in lines): continue                # a table
        lines = [l for l in lines if not re.fullmatch(r"\s*(!\[[^\]]*\]\([^)]*\)|<img[^>]*>)\s*", l)  # image-only
                 and not l.lstrip().startswith(":::")]                                          # colon-fence lines
        if any(words(l.replace(CUT, "")) for l in lines): paras.append("\n".join(lines))   # not pure math
    return paras


def md_text(par):
    "A paragraph's rendered text, with CUT where math or markup was."
    out = []
    for line in par.splitlines():
        line = re.sub(r"^\s{0,3}#{1,6}\s+|\s+#+\s*$", "", line)        # heading
        line = re.sub(r"^(\s*>)+\s?", "", line)                         # blockquote
        line = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line)            # list item (numbers come from CSS)
        out.append(line.rstrip("\\"))
    text, parts = "\n".join(out), []
    for i, piece in enumerate(re.split(r"(`+)(.+?)\1", text, flags=re.S)):   # code spans are literal
        kind = i % 3
        if kind == 0: parts.append(_inline_md(piece))
        elif kind == 2: parts.append(f"{CUT}{piece}{CUT}")
    return "".join(parts)


class _PageText(HTMLParser):
    "Visible text of the page's <article>: math (MathJax output or its TeX source) and scripts are left out."
    SKIP = {"script", "style", "head", "noscript", "svg", "template", "mjx-container", "mjx-assistive-mml"}
    BLOCK = {"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "tr",
             "td", "th", "table", "thead", "tbody", "pre", "blockquote", "section", "article", "figure",
             "figcaption", "header", "footer", "nav", "aside", "main", "details", "summary", "img", "caption"}
    VOID = {"br", "hr", "img", "input", "meta", "link", "source", "wbr", "col", "area", "base", "embed", "track"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks, self.skip, self.depth, self.code, self.dollars = [], None, 0, 0, []

    def handle_starttag(self, tag, attrs):
        if self.skip:
            self.depth += tag == self.skip
            return
        if tag in self.SKIP or "math" in (dict(attrs).get("class") or "").split():
            if tag not in self.VOID: self.skip, self.depth = tag, 1
            self.chunks.append(" ")
            return
        if tag in ("code", "pre", "kbd", "samp"): self.code += 1
        if tag in self.BLOCK: self.chunks.append(" ")

    def handle_endtag(self, tag):
        if self.skip:
            self.depth -= tag == self.skip
            if self.depth == 0: self.skip = None
            return
        if tag in ("code", "pre", "kbd", "samp"): self.code = max(self.code - 1, 0)
        if tag in self.BLOCK: self.chunks.append(" ")

    def handle_data(self, data):
        if self.skip: return
        if not self.code and "$" in data: self.dollars.append(data.strip())   # TeX that MathJax never saw
        self.chunks.append(data if self.code else PAGE_MATH_RE.sub(" ", data))


def page_text(dom):
    "The parsed main content (the <article>) of a rendered page."
    m = re.search(r"<article\b.*</article>", dom, re.S)
    p = _PageText()
    p.feed(m.group(0) if m else dom)
    p.close()
    return p


def page_words(dom):
    "The words of a rendered page's main content."
    return words("".join(page_text(dom).chunks))


def contains(haystack, needle):
    return f" {' '.join(needle)} " in f" {' '.join(haystack)} "


def check_paragraphs(nb_path, dom):
    "(missing, relaxed): the paragraphs of the notebook not found on its rendered page, and those found only relaxed."
    page = page_words(dom)
    missing, relaxed = [], []
    for idx, src in cell_sources(nb_path):
        if "DO NOT EDIT" in src: continue          # docs/conf.py drops nbdev's autogenerated-file banner
        for par in md_paragraphs(src):
            text = md_text(par)
            if contains(page, words(text.replace(CUT, ""))): continue
            # a footnote mark renders as a number inside the paragraph, which an exact match cannot allow for: then
            # the paragraph's longest run of words without math or markup, at least 8 words (the whole paragraph when
            # shorter), must be on the page. Nothing else is relaxed (quotes and dashes are not words anyway).
            run_ = max((words(r) for r in text.split(CUT)), key=len)
            if (QUIRK.search(par) and len(run_) >= min(8, len(words(text.replace(CUT, ""))))
                    and contains(page, run_)):
                relaxed.append((idx, par))
            else:
                missing.append((idx, par))
    return missing, relaxed


# ---- the site, built once ----
@pytest.fixture(scope="module")
def site(tmp_path_factory):
    "`make docs` in a fresh copy of the project; returns the copy's root."
    proj = copy_project(tmp_path_factory.mktemp("docs") / "proj")
    (proj / ".venv").symlink_to(ROOT / ".venv")   # the venv this suite runs in: `make docs` finds it installed (a new one: ~2 min)
    run("make docs", proj, timeout=900)
    return proj


@pytest.fixture(scope="module")
def doms(site, tmp_path_factory):
    "Each notebook's page as headless Chromium renders it (MathJax and all), by notebook stem."
    out, profile = {}, tmp_path_factory.mktemp("chrome")
    for stem in NOTEBOOKS:
        html_file = site / "_site" / f"{stem}.html"
        assert html_file.exists(), f"no page for {stem}.ipynb"
        out[stem] = run(f"{CHROMIUM} {FLAGS} --user-data-dir={profile / stem} --virtual-time-budget=3000 "
                        f"--dump-dom file://{html_file}", site, timeout=120).stdout
    return out


def test_site_renders_each_notebook_with_title_and_figure(site, doms, tmp_path):
    assert len(NOTEBOOKS) >= 5
    for stem in NOTEBOOKS:
        nb, dom = site / "nbs" / f"{stem}.ipynb", doms[stem]
        title = notebook_title(nb)
        h1 = re.search(r"<h1[^>]*>(.*?)</h1>", dom, re.S)
        assert h1 and title in re.sub(r"<[^>]+>", "", h1.group(1)), f"{stem}: title {title!r} not rendered"
        description = notebook_description(nb)
        assert description and contains(page_words(dom), words(description)), \
            f"{stem}: description {description!r} not rendered in full"
        imgs = re.findall(r'<img[^>]+src="(_images/[^"]+\.png)"', dom)
        assert imgs, f"{stem}: no figure rendered"
        assert all((site / "_site" / src).stat().st_size > 1000 for src in imgs), f"{stem}: empty figure file"
    site_dir = site / "_site"
    run(f"{CHROMIUM} {FLAGS} --user-data-dir={tmp_path/'shot'} --window-size=1280,1000 "
        f"--screenshot={tmp_path/'index.png'} file://{site_dir/'index.html'}", site, timeout=120)
    assert (tmp_path / "index.png").stat().st_size > 10_000


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_every_markdown_paragraph_is_rendered(site, doms, stem):
    missing, relaxed = check_paragraphs(site / "nbs" / f"{stem}.ipynb", doms[stem])
    for idx, par in relaxed:
        warnings.warn(f"{stem}.ipynb cell {idx}: matched only by its longest plain run: {par[:80]!r}")
    assert not missing, "\n".join(f"{stem}.ipynb cell {idx}: paragraph not on {stem}.html: {par[:80]!r}"
                                  for idx, par in missing)
    stray = page_text(doms[stem]).dollars   # a `$` outside code and math: TeX that the Markdown parser did not take
    assert not stray, f"{stem}.html: math left as text (a `$` outside code and math): {stray[:3]}"


def test_paragraph_check_reports_a_removed_paragraph(site, doms):
    "The check is not vacuous: delete one paragraph from a rendered page and it is reported, by cell."
    stem = "13_lirf" if "13_lirf" in doms else NOTEBOOKS[-1]
    nb = site / "nbs" / f"{stem}.ipynb"
    assert check_paragraphs(nb, doms[stem])[0] == []
    paras = re.findall(r"<p>(?:(?!</p>).)*</p>", doms[stem].split("<article", 1)[1], re.S)
    target = max(paras, key=lambda p: len(page_words(p)))            # the longest prose paragraph of the page
    missing, _ = check_paragraphs(nb, doms[stem].replace(target, "<p></p>", 1))
    assert missing, f"{stem}: deleting {target[:80]!r} went unnoticed"
    assert all(words(md_text(par).replace(CUT, "")) for _, par in missing)
