#!/usr/bin/env bash
# The GPU measurements of one device lease, in one go (each step under its own time limit, so a slow step costs only
# itself; the limits add up to 450 s). Writes JSON to $OUT (default benchmarks/results/gpu). Needs `make repro`'s data/, outputs/encode and
# outputs/features for the recipe runs. Run from the project root:  bash benchmarks/gpu_session.sh
# SMOKE=1 shrinks every step to seconds (a check of the script itself on a CPU).
set -u
OUT=${OUT:-benchmarks/results/gpu}; mkdir -p "$OUT"
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD:$PWD/benchmarks PYTHONUNBUFFERED=1
PY=${PY:-python3}; DEV=${DEV:-cuda}
if [ "${SMOKE:-0}" = 1 ]; then DEV=cpu; S="--steps 3 --warmup 1 --samples 16"; P="--steps 5"; C="--batch 16 --repeats 1 --nfe 4"; R="--steps 20 --every 10 --draws 1 --samples 64"; RT_TINY=300 RT_B=300
else S=""; P="--steps 300"; C="--batch 64 --nfe 20 --repeats 3"; R="--steps 8000 --every 2000 --draws 3 --samples 1000"; fi
step() { local name=$1 limit=$2; shift 2; local t0=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1; echo "$name: rc $? in $((SECONDS - t0)) s" | tee -a "$OUT/steps.txt"; }
nvidia-smi -L > "$OUT/steps.txt" 2>&1 || echo "no nvidia-smi" > "$OUT/steps.txt"
$PY -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/steps.txt"
# training throughput and sampling cost: the pipeline's model and shape (SiT-tiny/2 on 4x4x4 latents), then SiT-B
step sit_tiny 45 $PY benchmarks/bench_sit.py --size tiny --patch-size 2 --input-size 4 --batch-size 128 $S --out "$OUT/sit_tiny_cuda.json"
step sit_B 45 $PY benchmarks/bench_sit.py --size B --patch-size 2 --input-size 4 --batch-size 256 $S --out "$OUT/sit_B_cuda.json"
step sit_B32 60 $PY benchmarks/bench_sit.py --size B --patch-size 2 --input-size 32 --batch-size 256 $S --out "$OUT/sit_B32_cuda.json"
# the project's training loop (accelerate, bf16 autocast, EMA, checkpoints) on one GPU
step processes 60 $PY benchmarks/bench_processes.py --size B --processes 1 --batch-size 256 $P --out "$OUT/processes_cuda.json"
# coarse-to-fine at the paper's scale (SiT-S before t_split, SiT-XL after; 32x32x4 latents, patch 2)
step c2f 60 $PY benchmarks/bench_coarse_to_fine.py --small S --large XL --patch-size 2 --input-size 32 --device "$DEV" $C --out "$OUT/coarse_to_fine_S_XL_cuda.json"
# the pipeline's recipe (SiT-tiny/2) on the GPU, then the README's SiT-B preset, each scored like the pipeline's rows
step recipe_tiny "${RT_TINY:-80}" $PY benchmarks/bench_recipe.py --only tiny-p2-b128-lr4e-3-logit $R --out "$OUT/recipe_tiny_cuda.json"
step recipe_B "${RT_B:-100}" $PY benchmarks/bench_recipe.py --only B-p2-b256-lr1e-4-logit $R --out "$OUT/recipe_B_cuda.json"
