"""params.yaml validation through the real file and loader, and dvc.yaml declaring exactly the params each stage reads."""
import pytest, yaml
from refine_lib.config import ParamsError, STAGE_SECTIONS, load_params, to_dict, Params, stage_modules
from conftest import ROOT


def write(tmp_path, text):
    f = tmp_path / "params.yaml"; f.write_text(text); return f


def test_committed_params_are_valid():
    p = load_params(ROOT / "params.yaml")
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    # every section in the file is spelled out completely: what the file says is what runs
    for name, values in raw.items():
        if isinstance(values, dict): assert set(values) == set(to_dict(p)[name]), name


def test_params_yaml_holds_the_library_defaults():
    """One source for each default: every knob in params.yaml has the value of its dataclass default, so the two cannot
    drift apart unnoticed (params.yaml also spells out the stability paper's grid rows beyond the default matrix)."""
    loaded, defaults = to_dict(load_params(ROOT / "params.yaml")), to_dict(Params())
    diffs = [f"methods.{m}" for m, v in defaults["methods"].items() if loaded["methods"].get(m) != v]   # params.yaml may add grid rows
    for section, default in defaults.items():
        if section == "methods": continue
        if isinstance(default, dict):
            diffs += [f"{section}.{k}: params.yaml {loaded[section][k]!r}, default {v!r}" for k, v in default.items() if loaded[section][k] != v]
        elif loaded[section] != default: diffs.append(f"{section}: params.yaml {loaded[section]!r}, default {default!r}")
    assert not diffs, "params.yaml and refine_lib.config disagree: " + "; ".join(diffs)


@pytest.mark.parametrize("text, fragment", [
    ("seed: 0\nencode:\n  lrr: 0.1\n", "unknown key 'encode.lrr'; did you mean 'encode.lr'?"),
    ("seed: 0\ndat:\n  dir: x\n", "unknown key 'dat'; did you mean 'data'?"),
    ("data:\n  image_size: sixteen\n", "data.image_size: expected int, got str"),
    ("data:\n  image_size: 16.0\n", "data.image_size: expected int, got float"),
    ("data:\n  channels: 2\n", "data.channels: 2 is not one of [1, 3]"),
    ("data:\n  test_fraction: 1.0\n", "data.test_fraction: 1.0 is out of range (must be < 1.0)"),
    ("encode:\n  block_out_channels: [16, 12]\n", "not divisible by encode.norm_num_groups"),
    ("encode:\n  block_out_channels: 16\n", "encode.block_out_channels: expected a list of int"),
    ("seed: -1\n", "seed: -1 is out of range (must be >= 0)"),
    ("data: [1, 2]\n", "data: expected a mapping"),
    ("seed: 0\n  bad: indentation\n", "not valid YAML"),
    ("lirf:\n  interval: 4000\n", "lirf: interval: 4000 must be smaller than steps (1500)"),
    ("lirf:\n  runs:\n    x: {latents: semantc}\n", "lirf.runs.x.latents: 'semantc' is not one of ['plain', 'semantic']"),
    ("rows:\n  train: [vanilla-linear, subset-loss-50]\n", "rows.train: 'subset-loss-50' trains on a subset (loss): list it in rows.reduced"),
    ("rows:\n  train: [vanila-linear]\n", "did you mean 'vanilla-linear'?"),
    ("sample:\n  sampler: rk5\n", "sample.sampler: 'rk5' is not one of"),
    ("bfr:\n  a_max: 1.5\n", "bfr.a_max: 1.5 is out of range"),
    ("bfr:\n  base: vanila-linear\n", "bfr.base: 'vanila-linear' is not in rows.train"),
    ("bfr:\n  base: spherical-slerp\n", "bfr.base: 'spherical-slerp' has geometry spherical"),
    ("bfr:\n  lfr_samplers: [euler]\n", "lfr_samplers: 'euler' is not '<sampler>-<steps>'"),
    ("bfr:\n  refiners:\n    x: {kind: gan}\n", "bfr.refiners.x.kind: 'gan' is not one of"),
    ("bfr:\n  run: [lfr, dfr-noaugg]\n", "run: 'dfr-noaugg' is not one of bfr.refiners"),
    ("semantic:\n  teacher: dinov2\n", "weights: a local weights file is needed for teacher 'dinov2'"),
    # RTM: an H or L below 1, a pool smaller than the data, a token count that does not divide z
    ("imle:\n  rtm:\n    H: 0\n", "imle.rtm.H: 0 is out of range (must be >= 1)"),
    ("imle:\n  rtm:\n    L: 0\n", "imle.rtm.L: 0 is out of range (must be >= 1)"),
    ("imle:\n  pool_factor: 0\n", "imle.pool_factor: 0 is out of range (must be >= 1)"),
    ("imle:\n  rtm:\n    tokens: 5\n", "rtm.tokens: 5 does not divide imle.z_dim (64)"),
    ("imle:\n  run: [imle-rtn]\n", "did you mean 'imle-rtm'?"),
    ("imle:\n  runs:\n    x: {mapper: mpl}\n", "imle.runs.x.mapper: 'mpl' is not one of ['mlp', 'rtm']"),
    ("imle:\n  flow_baseline: vanila-linear\n", "imle.flow_baseline: 'vanila-linear' is not in rows.train"),
    ("imle:\n  perceptual: timm\n", "perceptual_model: needed when perceptual is 'timm'"),
    ("imle:\n  perceptual: timm\n  perceptual_model: vgg16.tv_in1k\n", "perceptual_weights: a local weights file is needed for perceptual_model 'vgg16.tv_in1k'"),
    ("imle:\n  perceptual: lpips\n", "imle.perceptual: 'lpips' is not one of ['teacher', 'timm', 'none']"),
])
def test_bad_params_name_the_file_and_key(tmp_path, text, fragment):
    f = write(tmp_path, text)
    with pytest.raises(ParamsError) as e: load_params(f)
    assert fragment in str(e.value) and str(f) in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ParamsError, match="file not found"): load_params(tmp_path / "nope.yaml")


def test_dvc_yaml_lists_exactly_the_params_each_stage_reads():
    from refine_lib.config import STAGE_NOTEBOOKS
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert set(stages) == set(STAGE_SECTIONS)
    for name, spec in stages.items():
        expected = tuple(k.replace("{method}", "${item.method}") for k in STAGE_SECTIONS[name] if k != "{method}")
        assert tuple(spec["params"]) == expected, name
        assert f"nbs/stages/{STAGE_NOTEBOOKS.get(name, name)}.ipynb" in spec["deps"], name


PAPER_MODULES = {"spherical": "refine_lib/spherical.py", "stability": "refine_lib/stability.py", "lirf": "refine_lib/lirf.py",
                 "semantic": "refine_lib/semantic.py", "bfr": "refine_lib/bfr.py", "rtm": "refine_lib/rtm.py", "rtm_eval": "refine_lib/rtm_eval.py"}


def test_dvc_yaml_lists_exactly_the_modules_each_stage_runs():
    """A stage depends on the library modules its notebook imports, transitively (not the whole folder): dvc.yaml must
    list exactly `stage_modules(stage)`, so that editing one paper's module reruns only the stages that run it."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, spec in stages.items():
        listed = sorted(d for d in spec["deps"] if d.startswith("refine_lib"))
        expected = stage_modules(name, ROOT)
        assert listed == sorted(expected), (f"dvc.yaml stage '{name}': library deps should be {expected}; missing "
                                            f"{sorted(set(expected) - set(listed))}, extra {sorted(set(listed) - set(expected))}")
    # each paper's module is run by that paper's stages only
    runs = {paper: sorted(n for n, spec in stages.items() if f in spec["deps"]) for paper, f in PAPER_MODULES.items()}
    assert runs == {"spherical": ["evaluate-spherical", "finetune-decoder"], "stability": ["evaluate-stability", "scores", "train-seam"],
                    "lirf": ["evaluate-lirf", "refine-lirf"], "semantic": ["semantic"], "bfr": ["evaluate-bfr", "refine-bfr"],
                    "rtm": ["evaluate-rtm", "train-imle"], "rtm_eval": ["evaluate-rtm"]}, runs


def test_the_core_reads_no_papers_outputs():
    """encode -> features -> train@ -> sample@ (and the references) neither import a paper's module nor read a paper
    stage's outputs: editing a paper never reruns the baseline."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    paper_outputs = ("outputs/finetune-decoder", "outputs/scores", "outputs/semantic", "outputs/refine-lirf", "outputs/refine-bfr", "outputs/train-imle", "outputs/evaluate-")
    for name in ("encode", "features", "train", "sample", "reference"):
        deps = stages[name]["deps"]
        assert not set(deps) & set(PAPER_MODULES.values()), name
        assert not [d for d in deps if d.startswith(paper_outputs)], (name, deps)


def test_dvc_yaml_matrices_follow_the_rows():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    p = load_params(ROOT / "params.yaml")
    assert stages["train"]["matrix"]["method"] == stages["sample"]["matrix"]["method"] == "${rows.train}"
    assert stages["train-subset"]["matrix"]["method"] == "${rows.reduced}"
    assert all(p.methods[m].subset == "all" for m in p.rows.train) and all(p.methods[m].subset != "all" for m in p.rows.reduced)
    # only the stability family waits for the scores; the merge reads the rows files, not models
    assert [n for n, s in stages.items() if "outputs/scores" in s["deps"]] == ["train-subset"]
    assert all(d.startswith(("metrics/", "outputs/sample", "outputs/train")) for d in stages["evaluate"]["deps"] if not d.startswith(("nbs/", "refine_lib/")))


def test_make_full_is_the_params_of_the_committed_full_results(tmp_path):
    """`make full`'s overrides on params.yaml give exactly the params reports/full/ was computed with, so the committed
    full results (the README's numbers) are what the preset reproduces; and the default differs from them only in budgets."""
    mk = (ROOT / "Makefile").read_text()
    defs = {l.split(":=")[0].strip(): l.split(":=", 1)[1].strip() for l in mk.splitlines() if ":=" in l and l[:1].isupper()}
    overrides = defs["FULL_OVERRIDES"].replace("$(FULL_FLOW)", defs["FULL_FLOW"])
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    keys = []
    for tok in overrides.split("-S")[1:]:
        key, val = tok.strip().split("=", 1)
        *path, last = key.split(".")
        d = raw
        for k in path: d = d[k]
        assert last in d, key
        d[last] = yaml.safe_load(val); keys.append(key)
    f = tmp_path / "params.yaml"; f.write_text(yaml.safe_dump(raw))
    full = to_dict(load_params(ROOT / "reports" / "full" / "params.yaml"))
    assert to_dict(load_params(f)) == full
    assert sorted(keys) == sorted(set(keys)) and all(k.endswith(("steps", "snapshot_every")) for k in keys)   # budgets only
    assert "$(FULL_OVERRIDES)" in mk.split("\nseeds:")[1].split("\n\n")[0]   # the presets build on the full budgets
