#!/usr/bin/env bash
# The device check: every benchmark once on the accelerator, logs under $OUT (or ./gpu_out).
# Run from the repository root: bash benchmarks/gpu_run.sh
set -u
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import jax, jaxlib; print('jax', jax.__version__, jax.devices())"
} 2>&1 | tee "$OUT/env.txt"
timeout 120 python3 benchmarks/bench_betainc.py --n 1000000 --repeat 3 2>&1 | tee "$OUT/betainc.txt"
timeout 90 python3 benchmarks/bench_strategies.py --repeats 3 2>&1 | tee "$OUT/strategies.txt"
timeout 150 python3 benchmarks/bench_sweep.py 2>&1 | tee "$OUT/sweep.txt"
timeout 150 python3 benchmarks/bench_optim.py --budgets 225 --repeat 2 2>&1 | tee "$OUT/optim.txt"
