"""LIRF's loop against bad or foreign state: a corrupt bank file, a bank of another run, a few-shot request the data cannot meet.
The operator's properties, the admission rule, the lambda schedule and one short round end to end are tested in nbs/13_lirf.ipynb."""
import logging
import pytest
import torch
from refine_lib.data import few_shot_indices
from refine_lib.lirf import BANK_NAME, LIRFSchedule, correct, load_bank, train_with_lirf
from refine_lib.paths import get_path
from refine_lib.sit import SiTSpec, build_sit
from refine_lib.training import LoopConfig

SPEC = SiTSpec(size="micro", patch_size=1, input_size=4, in_channels=4)
LOOP = LoopConfig(steps=30, batch_size=8, lr=1e-3, warmup_steps=2, checkpoint_every=10, log_every=10)
SCHED = LIRFSchedule(interval=10, candidates=8, tau=100.0, sampling_steps=2)


def run(ckpt, few, **kw):
    return train_with_lirf(build_sit(SPEC, 0), few, get_path("linear"), LOOP, ckpt, SCHED, progress=False, on_mismatch="restart", **kw)


def test_corrupt_or_foreign_bank_starts_the_rounds_over(tmp_path, caplog):
    few = torch.randn(10, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    ref = run(tmp_path / "ref", few)
    assert [r["bank_size"] for r in ref["rounds"]] == [18, 26]      # tau = 100: every candidate admitted
    bank, origin, rounds, _ = load_bank(tmp_path / "ref" / BANK_NAME)
    assert torch.equal(bank, ref["bank"]) and origin.tolist() == [0] * 10 + [1] * 8 + [2] * 8 and len(rounds) == 2
    # a corrupt bank file: a warning naming it, the rounds start over, the result is the uninterrupted one
    (tmp_path / "ref" / BANK_NAME).write_bytes(b"garbage")
    (tmp_path / "ref" / "checkpoint.safetensors").unlink()
    with caplog.at_level(logging.WARNING):
        again = run(tmp_path / "ref", few)
    assert BANK_NAME in caplog.text and torch.equal(again["bank"], ref["bank"])
    # a bank written for other few-shot latents is not reused
    other = run(tmp_path / "ref", few + 1)
    assert torch.equal(other["bank"][:10], few + 1) and len(other["rounds"]) == 2


def test_bad_inputs_name_the_problem():
    labels = torch.arange(10).repeat_interleave(3)
    # a split of at most lirf.few_shot images (a few-shot set) is used whole
    assert torch.equal(few_shot_indices(labels, 40), torch.arange(30)) and torch.equal(few_shot_indices(None, 10, total=10), torch.arange(10))
    with pytest.raises(ValueError, match="class 0 has 3 images"): few_shot_indices(torch.tensor([0] * 3 + [1] * 20), 8)
    idx = few_shot_indices(labels, 20, seed=1)
    assert torch.bincount(labels[idx]).tolist() == [2] * 10 and torch.equal(idx, few_shot_indices(labels, 20, seed=1))
    with pytest.raises(ValueError, match="64 dims against a bank of 32"): correct(torch.randn(2, 4, 4, 4), torch.randn(5, 2, 4, 4), 0.5)
