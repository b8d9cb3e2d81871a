"""Default data determinism (and that the committed data.dvc holds), every image mode, corrupt and non-image files."""
import logging
import numpy as np, pytest, torch
from PIL import Image
from refine_lib.config import DataConfig
from refine_lib.data import DataError, folder_md5, load_dataset, load_image, materialize_digits
from conftest import copy_project, run


def test_digits_are_byte_identical_twice(tmp_path):
    a, b = materialize_digits(tmp_path / "a"), materialize_digits(tmp_path / "b")
    assert folder_md5(a) == folder_md5(b)


def test_committed_data_dvc_holds_for_materialised_digits(project):
    run("python -m refine_lib.data --materialize-digits data", project)
    out = run("dvc status data.dvc", project).stdout
    assert "modified" not in out and ("up to date" in out or "not in cache" in out), out   # same hash, just not cached yet
    run("dvc add data -q", project)   # what `make data` does: caching recomputes the hash and leaves data.dvc unchanged
    assert run("git status --porcelain data.dvc", project).stdout.strip() == ""
    assert "up to date" in run("dvc status data.dvc", project).stdout


def _rgb(h=20, w=30, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


MODES = {
    "L.png": lambda a: Image.fromarray(a[..., 0]),
    "LA.png": lambda a: Image.merge("LA", [Image.fromarray(a[..., 0]), Image.fromarray(a[..., 1])]),
    "RGB.png": lambda a: Image.fromarray(a),
    "RGBA.png": lambda a: Image.fromarray(np.dstack([a, a[..., :1]])),
    "P.png": lambda a: Image.fromarray(a).convert("P"),
    "P_transparent.gif": lambda a: Image.fromarray(a).convert("P"),
    "I16.png": lambda a: Image.fromarray(a[..., 0].astype(np.uint16) * 257),
    "I16.tif": lambda a: Image.fromarray(a[..., 0].astype(np.uint16) * 257),
    "F.tif": lambda a: Image.fromarray(a[..., 0].astype(np.float32) / 255),
    "1.png": lambda a: Image.fromarray(a[..., 0] > 127),
    "CMYK.jpg": lambda a: Image.fromarray(a).convert("CMYK"),
    "RGB.webp": lambda a: Image.fromarray(a),
    "L.bmp": lambda a: Image.fromarray(a[..., 0]),
}


@pytest.mark.parametrize("name", MODES)
@pytest.mark.parametrize("channels", [1, 3])
def test_every_mode_loads(tmp_path, name, channels):
    img = MODES[name](_rgb())
    kw = {"transparency": 0} if name.startswith("P_transparent") else {}
    img.save(tmp_path / name, **kw)
    x = load_image(tmp_path / name, 16, channels)
    assert x.shape == (channels, 16, 16) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.std() > 0.01


def test_16_bit_is_scaled_not_clipped(tmp_path):
    a = _rgb()[..., 0]
    Image.fromarray(a).save(tmp_path / "8.png"); Image.fromarray(a.astype(np.uint16) * 257).save(tmp_path / "16.png")
    np.testing.assert_allclose(load_image(tmp_path / "16.png", 20, 1), load_image(tmp_path / "8.png", 20, 1), atol=1e-6)


def test_alpha_is_composited_over_black(tmp_path):
    a = np.zeros((8, 8, 4), np.uint8); a[..., :3] = 255; a[:4, ..., 3] = 255   # top half opaque white, bottom transparent
    Image.fromarray(a).save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png", 8, 1)[0]
    assert np.allclose(x[:4], 1.0) and np.allclose(x[4:], 0.0)


def test_non_square_is_centre_cropped(tmp_path):
    a = np.zeros((10, 30), np.uint8); a[:, 10:20] = 255   # the bright middle square survives the crop
    Image.fromarray(a).save(tmp_path / "w.png")
    assert np.allclose(load_image(tmp_path / "w.png", 10, 1), 1.0)


def _folder(tmp_path, n=6):
    root = tmp_path / "imgs"
    for split in ("train", "test"):
        for c in ("cat", "dog"):
            (root / split / c).mkdir(parents=True)
            for i in range(n): Image.fromarray(_rgb(12, 12, i)).save(root / split / c / f"{i}.png")
    return root


@pytest.mark.parametrize("bad_name, content", [
    ("truncated.png", None),              # a real PNG cut in half
    ("empty.jpg", b""),
    ("text.png", b"this is not a png"),
    ("notes.txt", b"a stray note"),       # a non-image file
])
def test_corrupt_or_non_image_file_is_named(tmp_path, bad_name, content):
    root = _folder(tmp_path)
    bad = root / "train" / "dog" / bad_name
    if content is None:
        good = (root / "train" / "dog" / "0.png").read_bytes(); bad.write_bytes(good[: len(good) // 2])
    else:
        bad.write_bytes(content)
    with pytest.raises(DataError) as e: load_dataset(DataConfig(dir=str(root), image_size=8))
    assert bad_name in str(e.value)


def test_skip_mode_warns_with_count_and_names(tmp_path, caplog):
    root = _folder(tmp_path)
    (root / "train" / "cat" / "bad.png").write_bytes(b"nope"); (root / "test" / "dog" / "x.txt").write_text("x")
    with caplog.at_level(logging.WARNING):
        ds = load_dataset(DataConfig(dir=str(root), image_size=8, on_corrupt="skip"))
    assert (len(ds["train"]), len(ds["test"])) == (12, 12)
    msgs = " ".join(r.getMessage() for r in caplog.records)
    assert "skipped 1 unreadable file" in msgs and "bad.png" in msgs and "x.txt" in msgs


def test_labels_follow_the_training_classes(tmp_path):
    ds = load_dataset(DataConfig(dir=str(_folder(tmp_path)), image_size=8, channels=3))
    assert ds["train"].classes == ["cat", "dog"] and ds["train"].labels.tolist() == [0] * 6 + [1] * 6
    assert ds["train"].images.shape == (12, 3, 8, 8) and ds["train"].images.min() >= -1


@pytest.mark.parametrize("setup, fragment", [
    (lambda r: r.mkdir(), "no files found"),
    (lambda r: (r.mkdir(), (r / ".hidden").write_text("x")), "no files found"),
    (lambda r: None, "no such folder"),
])
def test_empty_or_missing_folder_is_an_error(tmp_path, setup, fragment):
    root = tmp_path / "d"; setup(root)
    with pytest.raises(DataError, match=fragment): load_dataset(DataConfig(dir=str(root)))
