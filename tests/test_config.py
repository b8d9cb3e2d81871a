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
    ("refine:\n  interval: 2000\n", "refine: interval: 2000 must be smaller than steps (1000)"),
    ("refine:\n  runs:\n    x: {latents: semantc}\n", "refine.runs.x.latents: 'semantc' is not one of ['plain', 'semantic']"),
    ("semantic:\n  teacher: dinov2\n", "weights: a local weights file is needed for teacher 'dinov2'"),
])
def test_bad_params_name_the_file_and_key(tmp_path, text, fragment):
    f = write(tmp_path, text)
    with pytest.raises(ParamsError) as e: load_params(f)
    assert fragment in str(e.value) and str(f) in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ParamsError, match="file not found"): load_params(tmp_path / "nope.yaml")


def test_dvc_yaml_lists_exactly_the_params_each_stage_reads():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert set(stages) == set(STAGE_SECTIONS)
    for name, spec in stages.items():
        expected = tuple(k.replace("{method}", "${item.method}") for k in STAGE_SECTIONS[name])
        assert tuple(spec["params"]) == expected, name
        assert f"nbs/stages/{name}.ipynb" in spec["deps"], name


def test_dvc_yaml_lists_exactly_the_modules_each_stage_runs():
    """A stage depends on the library modules its notebook imports, transitively (not the whole folder): dvc.yaml must
    list exactly `stage_modules(stage)`, so that editing one paper's module reruns only the stages that run it."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, spec in stages.items():
        listed = sorted(d for d in spec["deps"] if d.startswith("refine_lib"))
        expected = stage_modules(name, ROOT)
        assert listed == sorted(expected), (f"dvc.yaml stage '{name}': library deps should be {expected}; missing "
                                            f"{sorted(set(expected) - set(listed))}, extra {sorted(set(listed) - set(expected))}")
    # the LIRF module is run by the refine stage only (and evaluate reads refine's outputs, not its code)
    assert [n for n, spec in stages.items() if "refine_lib/lirf.py" in spec["deps"]] == ["refine"]


def test_dvc_yaml_matrix_and_evaluate_deps_follow_params():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    p = load_params(ROOT / "params.yaml")
    # the matrix is the list of evaluated rows; every row's settings live in methods.<name>
    assert stages["train"]["matrix"]["method"] == "${evaluate.methods}"
    assert set(p.evaluate.methods) <= set(p.methods)
    assert "outputs/train" in stages["evaluate"]["deps"] and "outputs/scores" in stages["train"]["deps"]
