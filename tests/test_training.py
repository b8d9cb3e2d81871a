"""The one training loop (`refine_lib.training.fit`) and every model it trains: kill-and-resume gives bit-identical
weights for each loop user, a NaN in any loss stops naming the loss and the step, and two CPU processes started by the
launcher end with identical replicas, one checkpoint written by the first process, and resume exactly."""
import json
from dataclasses import replace
from pathlib import Path
import pytest
import torch
from safetensors.torch import load_file, save_file
from refine_lib.training import (CKPT_NAME, LoopConfig, TrainingDiverged, fit, flow_batches, flow_objective, launch, read_checkpoint,
                                 train_flow)

STEPS, KILL = 12, 6   # with a checkpoint every 4 steps (FAST), killed at 6, the rerun resumes at 4
FAST = {"checkpoint_every": 4, "log_every": 2}


def same_weights(a: torch.nn.Module, b: torch.nn.Module):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa: assert torch.equal(sa[k], sb[k]), k


def resumed_equals_uninterrupted(train, tmp_path):
    """`train(ckpt_dir, stop_after)` returns (modules, history); killed at KILL and rerun, it equals an uninterrupted run."""
    full_mods, full_hist = train(tmp_path / "full", None)
    train(tmp_path / "killed", KILL)
    _, meta = read_checkpoint(tmp_path / "killed" / CKPT_NAME)
    assert int(meta["step"]) == 4
    mods, hist = train(tmp_path / "killed", None)
    for a, b in zip(full_mods, mods): same_weights(a, b)
    assert hist == full_hist and hist[-1]["step"] == STEPS


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.nn.functional.interpolate(torch.tensor(d.images[:96], dtype=torch.float32)[:, None] / 8 - 1, size=16, mode="bilinear")
    return x, torch.tensor(d.target[:96])


def test_autoencoder_resumes_bit_identically(digits, tmp_path):
    from refine_lib.autoencoder import build_autoencoder, train_autoencoder
    from refine_lib.config import EncodeConfig
    from refine_lib.training import short_loop
    def train(d, stop):
        ae = build_autoencoder(EncodeConfig(), 1, 16, seed=0)   # the default architecture (a tinier one is slower on CPU)
        return [ae], train_autoencoder(ae, digits[0], short_loop(STEPS, 16, 2e-3, **FAST), d, seed=1, stop_after=stop, progress=False)["history"]
    resumed_equals_uninterrupted(train, tmp_path)


def test_decoder_finetune_with_discriminator_resumes_bit_identically(digits, tmp_path):
    from refine_lib.autoencoder import build_autoencoder, encode_images
    from refine_lib.config import EncodeConfig
    from refine_lib.spherical import finetune_decoder
    ae = build_autoencoder(EncodeConfig(), 1, 16, seed=0)
    z = encode_images(ae, digits[0])
    def train(d, stop):
        out, hist = finetune_decoder(ae, digits[0], z, STEPS, batch_size=16, lr=1e-3, adversarial_weight=0.1, adversarial_start=5,
                                     seed=2, ckpt_dir=d, stop_after=stop, loop_overrides=FAST, progress=False)
        return [out], hist
    resumed_equals_uninterrupted(train, tmp_path)
    # the discriminator is checkpointed too: its objective logs from its start on
    tensors, meta = read_checkpoint(tmp_path / "full" / CKPT_NAME)
    assert any(k.startswith("model.disc.") for k in tensors) and any(k.startswith("optim.adv_d.") for k in tensors)
    hist = json.loads(meta["history"])
    assert "adv_d" not in hist[1] and "adv_d" in hist[2]   # logged every 2 steps; joins at step 5 (0-based)


def test_semantic_finetune_resumes_bit_identically(digits, tmp_path):
    from refine_lib.autoencoder import build_autoencoder, latent_shape
    from refine_lib.config import EncodeConfig
    from refine_lib.semantic import AlignmentHead, finetune_semantic
    feats = torch.randn(len(digits[0]), 6, generator=torch.Generator().manual_seed(0))
    def train(d, stop):
        ae = build_autoencoder(EncodeConfig(), 1, 16, seed=0)
        head = AlignmentHead(latent_shape(ae, 16), 6)
        hist = finetune_semantic(ae, head, digits[0], feats, digits[1], STEPS, batch_size=16, manifold_weight=0.1, seed=3, ckpt_dir=d,
                                 stop_after=stop, loop_overrides=FAST, progress=False)
        return [ae, head], hist
    resumed_equals_uninterrupted(train, tmp_path)


def test_teacher_and_classifier_resume_bit_identically(digits, tmp_path):
    from refine_lib.contrastive import train_contrastive
    from refine_lib.metrics import train_classifier
    def teacher(d, stop):
        net, hist = train_contrastive(digits[0], STEPS, batch_size=16, dim=8, seed=4, ckpt_dir=d, stop_after=stop, loop_overrides=FAST, progress=False)
        return [net], hist
    resumed_equals_uninterrupted(teacher, tmp_path / "teacher")
    def classifier(d, stop):
        net = train_classifier(digits[0], digits[1], 10, STEPS, batch_size=16, seed=5, width=8, feature_dim=16, ckpt_dir=d,
                               stop_after=stop, loop_overrides=FAST, progress=False)
        return [net], json.loads(read_checkpoint(Path(d) / CKPT_NAME)[1]["history"])
    resumed_equals_uninterrupted(classifier, tmp_path / "classifier")


def test_a_nan_names_the_loss_and_the_step(digits, tmp_path):
    from refine_lib.autoencoder import build_autoencoder, train_autoencoder
    from refine_lib.config import EncodeConfig
    from refine_lib.training import short_loop
    x = digits[0].clone(); x[:] = float("nan")
    ae = build_autoencoder(EncodeConfig(), 1, 16, seed=0)
    with pytest.raises(TrainingDiverged, match="autoencoder loss is nan at step 0; no checkpoint was written yet. Lower encode.lr"):
        train_autoencoder(ae, x, short_loop(10, 16, 1e-3), tmp_path, progress=False)


def test_a_checkpoint_from_elsewhere_is_refused_naming_the_file(tmp_path):
    from refine_lib.sit import SiTSpec, build_sit
    from refine_lib.paths import LinearPath
    (tmp_path / CKPT_NAME).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=f"{tmp_path / CKPT_NAME}: not a readable safetensors checkpoint"):
        train_flow(build_sit(SiTSpec(size="micro", input_size=4)), torch.randn(16, 4, 4, 4), LinearPath(), LoopConfig(steps=2), tmp_path, progress=False)
    save_file({"w": torch.zeros(1)}, str(tmp_path / CKPT_NAME), {"format": "something/else"})
    with pytest.raises(ValueError, match="not a refine_lib.training/2 checkpoint"):
        train_flow(build_sit(SiTSpec(size="micro", input_size=4)), torch.randn(16, 4, 4, 4), LinearPath(), LoopConfig(steps=2), tmp_path, progress=False)


# ---- two CPU processes through the launcher ----

def _flow_setup():
    from refine_lib.sit import SiTSpec, build_sit
    from refine_lib.paths import LinearPath
    lat = torch.randn(64, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    return build_sit(SiTSpec(size="micro", input_size=4), seed=0), lat, LinearPath()


def _each_rank_saves(out: str, cfg: LoopConfig):
    "Run in every launched process: train, then save this rank's replica and history (to compare the ranks)."
    import torch.distributed as dist
    model, lat, path = _flow_setup()
    res = fit({"model": model}, flow_objective(path), flow_batches(lat, path, cfg.batch_size), cfg, Path(out) / "ckpt", seed=7,
              ema=("model",), progress=False)
    rank = dist.get_rank()
    save_file({k: v.contiguous() for k, v in res["models"]["model"].state_dict().items()}, f"{out}/rank{rank}.safetensors")
    Path(f"{out}/history{rank}.json").write_text(json.dumps(res["history"]))


def test_two_processes_identical_replicas_one_writer(tmp_path):
    cfg = LoopConfig(steps=8, batch_size=8, lr=1e-3, warmup_steps=2, checkpoint_every=4, log_every=1, processes=2)
    launch(_each_rank_saves, (str(tmp_path), cfg), 2)
    r0, r1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    for k in r0: assert torch.equal(r0[k], r1[k]), k   # averaged gradients: the same step everywhere
    h0, h1 = (json.loads((tmp_path / f"history{r}.json").read_text()) for r in (0, 1))
    assert [h["loss"] for h in h0] != [h["loss"] for h in h1]   # each process draws its own batches
    files = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert files == [CKPT_NAME]   # one checkpoint, written by the first process (no stray temporary files)
    tensors, meta = read_checkpoint(tmp_path / "ckpt" / CKPT_NAME)
    assert {"rng.generator.0", "rng.generator.1"} <= set(tensors) and meta["step"] == "8"


def test_two_processes_resume_exactly(tmp_path):
    """`fit` with `processes=2` from this process (as a stage notebook calls it): killed after the step-4 checkpoint and
    rerun, it ends with the weights of an uninterrupted two-process run."""
    cfg = LoopConfig(steps=10, batch_size=8, lr=1e-3, warmup_steps=2, checkpoint_every=4, log_every=1, processes=2)
    def run(d, stop=None):
        model, lat, path = _flow_setup()
        return train_flow(model, lat, path, cfg, d, seed=3, stop_after=stop, progress=False)
    full = run(tmp_path / "full")
    assert full["last_checkpoint"] == 10 and full["resumed_from"] is None
    run(tmp_path / "killed", stop=6)
    assert read_checkpoint(tmp_path / "killed" / CKPT_NAME)[1]["step"] == "4"
    rest = run(tmp_path / "killed")
    assert rest["resumed_from"] == 4
    same_weights(full["model"], rest["model"]); same_weights(full["ema"], rest["ema"])
    assert full["history"] == rest["history"]
    model, lat, path = _flow_setup()
    one = train_flow(model, lat, path, replace(cfg, processes=1), tmp_path / "one", seed=3, progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(one["model"].state_dict().values(), full["model"].state_dict().values()))   # another run
