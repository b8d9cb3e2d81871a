# The two commands a newcomer types (see README):
#   make repro   set up .venv, materialise the default data if data/ is absent, run the whole DVC pipeline
#   make test    set up .venv, run every notebook (nbdev-test) and the pytest suite
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# the venv's tools must be found by papermill's kernel and by dvc's stage commands
export PYTHONHASHSEED := 0
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: all repro full test venv data docs nbtest pytest check-sync browser run-nbs clean-outputs stability-grid spherical-ablation spherical-d4 spherical-vae16 spherical-seeds seeds bfr-seeds bfr-micro bfr-full seam rtm-gpu

all: test

# the stamp holds the hashes of what was installed: nbdev-export rewrites pyproject.toml (same content, new mtime),
# which must not trigger a reinstall
$(VENV)/.installed: pyproject.toml requirements.lock
	@if [ -x $(PY) ] && sha256sum pyproject.toml requirements.lock | cmp -s - $@; then touch $@; else \
	  $(PYTHON) -m venv $(VENV) && $(PY) -m pip install -q --upgrade pip && \
	  $(PY) -m pip install -q -c requirements.lock -e '.[dev]' && \
	  sha256sum pyproject.toml requirements.lock > $@; fi

venv: $(VENV)/.installed

# the default data: scikit-learn's digits as PNG files, byte-identical everywhere (data.dvc holds)
data: venv
	@if [ ! -d data ]; then $(PY) -m refine_lib.data --materialize-digits data; fi
	dvc add -q data   # caches data/; for the default digits data.dvc is unchanged (its hash holds everywhere)

repro: data
	dvc repro

# The default's budgets fit 30 minutes on 2 CPU cores (the BFR and RTM issues' budget), shorter than the plateau. `make full`
# is the same pipeline with every model trained as far as this CPU allows -- the flow models to their plateau (8000
# steps), Euler-50 sampling, LIRF 3000, the BFR refiners 4000, the IMLE rows 3000 steps -- as one DVC experiment: about
# 56 min on 2 CPU cores from scratch. Its results are committed in reports/full/ (the README's numbers); the presets
# below build on these budgets.
FULL_FLOW := -S train.steps=8000 -S train.snapshot_every=2000 -S sample.steps=50 -S lirf.steps=3000 -S bfr.steps=4000
FULL_OVERRIDES := $(FULL_FLOW) -S imle.steps=3000 -S imle.snapshot_every=500
full: data
	bin/exp-run -n full $(FULL_OVERRIDES)

# the stability paper's full reduced-data grid (5 criteria x 25/50/75% of the data, methods subset-* in params.yaml)
# beside the full-data and small models, as one DVC experiment: 15 trainings more than the default slice
# (about 35 min more on 2 CPU cores; run it on a GPU machine). Results: dvc exp show; reports/evaluate-stability/reduced_data.md
stability-grid: data
	bin/exp-run -n stability-grid $(FULL_OVERRIDES) -S "rows.reduced=[$$($(PY) -c 'from refine_lib.config import load_params; p = load_params(); print(",".join(m for m in p.methods if m.startswith("subset-") and "-seed" not in m))')]"

# the rest of the spherical-flow-matching ablation (path x geometry: vanilla-shell and spherical-linear, one seed each)
# beside the default rows, as one DVC experiment: 2 trainings more. Results: reports/evaluate-spherical/ablation.md
spherical-ablation: data
	bin/exp-run -n spherical-ablation $(FULL_OVERRIDES) -S "rows.train=[$$($(PY) -c 'from refine_lib.config import load_params; print(",".join(load_params().rows.train + ["vanilla-shell", "spherical-linear"]))')]"

# the spherical rows one token per latent position (pack 1: d = 4, where the shell is thick) instead of the default's
# 2x2 packing (d = 16): spherical-slerp retrains (and its replicates, which must match it), with vanilla-linear
# unchanged; about 8 min on 2 CPU cores. Results: reports/evaluate-spherical/ablation.md of the experiment
SPHERICAL_ROWS := spherical-slerp spherical-slerp-seed1 spherical-slerp-seed2 spherical-linear vanilla-shell
spherical-d4: data
	bin/exp-run -n spherical-d4 $(FULL_OVERRIDES) $(foreach m,$(SPHERICAL_ROWS),-S methods.$(m).pack=1) evaluate-spherical

# the spherical ablation on a separately trained 16-channel autoencoder (2x2x16 latents: three downsamplings, the
# same 64-d latent; tokens of d = 16 without packing), SiT-tiny/1 (4 tokens, as tiny/2 on 4x4x4), the 2x2 path x
# geometry table with 3 training seeds of the claim's pair (vanilla-linear, spherical-slerp), as one DVC experiment of
# only what evaluate-spherical needs (encode, finetune-decoder, train and sample of these rows; no LIRF, no stability
# rows): 8 trainings, about 40 min on 2 CPU cores. Results: reports/evaluate-spherical/ and
# reports/finetune-decoder/norm_table.md of the experiment (committed copy of an earlier protocol: reports/spherical-vae16/)
SPHERICAL_VAE16_ROWS := vanilla-linear,vanilla-linear-seed1,vanilla-linear-seed2,spherical-slerp,spherical-slerp-seed1,spherical-slerp-seed2,vanilla-shell,spherical-linear
spherical-vae16: data
	bin/exp-run -n spherical-vae16 $(FULL_OVERRIDES) -S "encode.block_out_channels=[16,32,32,32]" -S encode.latent_channels=16 -S train.patch_size=1 \
	  $(foreach m,$(SPHERICAL_ROWS),-S methods.$(m).pack=1) -S "decoder.packs=[1]" \
	  -S "rows.train=[$(SPHERICAL_VAE16_ROWS)]" -S 'coarse_to_fine.small=""' evaluate-spherical

# the papers' claims over 3 training seeds: the default rows with the replicates <row>-seed<k> of the claims' rows
# (methods in params.yaml) and every LIRF run with seeds 0, 1, 2, as one DVC experiment (about 90 min more on 2 CPU
# cores). The tables then show the mean and t-interval over the seeds and judge each claim; results: dvc exp show,
# reports/evaluate/table.md
seeds: data
	bin/exp-run -n seeds $(FULL_OVERRIDES) $$($(PY) -c 'from refine_lib.config import load_params, with_replicates, REPLICATE_SEEDS; p = load_params(); \
	  print(f"-S rows.train=[{chr(44).join(with_replicates(p.rows.train))}] -S rows.reduced=[{chr(44).join(with_replicates(p.rows.reduced))}] -S lirf.seeds=[{chr(44).join(map(str, (0, *REPLICATE_SEEDS)))}]")')

# the spherical claim alone over 3 training seeds: the default rows with the replicates of vanilla-linear and
# spherical-slerp, up to evaluate-spherical only (4 trainings more, about 25 min on 2 CPU cores); results:
# reports/evaluate-spherical/ablation.md of the experiment (committed copy: reports/seeds/spherical_ablation.md)
spherical-seeds: data
	bin/exp-run -n spherical-seeds $(FULL_OVERRIDES) $$($(PY) -c 'from refine_lib.config import load_params, with_replicates; \
	  print(f"-S rows.train=[{chr(44).join(with_replicates(load_params().rows.train))}]")') evaluate-spherical

# BFR's claims over 3 refiner seeds: every refiner trained with seeds 0, 1, 2 on the same base (the base's own training
# seed is the default's), up to evaluate-bfr only (6 refiner trainings more, about 8 min on 2 CPU cores); results:
# reports/evaluate-bfr/bfr.md of the experiment (the claims then pair over the refiner seeds)
bfr-seeds: data
	bin/exp-run -n bfr-seeds $(FULL_OVERRIDES) -S "bfr.seeds=[0,1,2]" evaluate-bfr

# BFR on a base with a visible bias: the refiners trained on the small model micro-linear (FID ~31 against ~26 for the
# baseline), transferred to the baseline; up to evaluate-bfr only (about 6 min on 2 CPU cores); results:
# reports/evaluate-bfr/bfr.md of the experiment (committed copy: reports/bfr-micro/)
bfr-micro: data
	bin/exp-run -n bfr-micro $(FULL_OVERRIDES) -S bfr.base=micro-linear -S bfr.transfer_to=vanilla-linear evaluate-bfr

# BFR's whole table: the default's two refiners plus the DFR ablation without augmentation (dfr-noaug) and the transfer
# rows on micro-linear, up to evaluate-bfr only (one refiner and 5 rows more, about 2 min on 2 CPU cores); results:
# reports/evaluate-bfr/bfr.md of the experiment (committed copy: reports/bfr-full/)
bfr-full: data
	bin/exp-run -n bfr-full $(FULL_OVERRIDES) -S "bfr.run=[lfr,dfr,dfr-noaug]" -S bfr.transfer_to=micro-linear evaluate-bfr

# the stability paper's seam loss: the small model trained again for t < 0.7 only with the seam term, evaluated at its
# t_split beside plain coarse-to-fine, up to evaluate-stability only (one 16000-step training, about 7 min on 2 CPU
# cores); results: reports/evaluate-stability/coarse_to_fine.md of the experiment (committed copy: reports/seam/)
seam: data
	bin/exp-run -n seam $(FULL_OVERRIDES) -S coarse_to_fine.seam_t_split=0.7 evaluate-stability

nbtest: venv
	nbdev-test --n-workers 2

pytest: venv browser
	pytest -q --durations=15

test: nbtest pytest

# fails when nbdev-export or nbdev-clean would change a tracked file (the notebooks are the source)
check-sync: venv
	nbdev-export && nbdev-clean
	git diff --exit-code --stat -- . ':(exclude)dvc.lock'

# headless Chromium for the docs-site test (Debian package; needs root, as on CI)
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

docs: venv
	rm -rf _proc _site
	nbdev-proc-nbs
	sphinx-build -q -b html -c docs _proc _site
	@echo "docs: _site/index.html"

# re-execute the library notebooks in place so the committed pages show fresh outputs and figures
run-nbs: venv
	for nb in nbs/*.ipynb; do jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.timeout=900 "$$nb" || exit 1; done
	nbdev-clean

clean-outputs:
	rm -rf outputs reports/notebooks

# the RTM paper at a GPU's budget: the four IMLE rows trained 10x longer with 4x the batch, up to evaluate-rtm only (the
# flow rows it compares with are the default's); on 2 CPU cores this would take hours. Results:
# reports/evaluate-rtm/{imle,h_sweep}.md of the experiment
rtm-gpu: data
	bin/exp-run -n rtm-gpu $(FULL_FLOW) -S imle.steps=30000 -S imle.batch_size=256 -S imle.snapshot_every=5000 -S imle.checkpoint_every=1000 evaluate-rtm
