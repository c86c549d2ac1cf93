#!/usr/bin/env bash
# The device check: every measurement issue 15 asks for, on the accelerator, logs under $OUT
# (or ./gpu_out). Run from the repository root:
#
#   bash benchmarks/gpu_run.sh                 # all stages, ~8 min on an H200
#   STAGES="betainc layouts" bash benchmarks/gpu_run.sh    # a subset (split over two calls)
#
# Stages (each under its own timeout, so one slow stage cannot eat the others' time):
#   env       device, driver, jax version
#   betainc   bench_betainc.py: the issue-15 table (array, vmap, value_and_grad, vmap(grad)),
#             1e6 DS3 points, float64 and float32, the backend's default layout
#   layouts   the same (array and vmap(grad) only) under other layouts: one lock-step loop,
#             three phases, blocks of 131072 -- to check or retune ds3jax/_execution.py's
#             GPU defaults (target: betainc on 1e6 DS3 points <= 5 ms in float64)
#   success   bench_strategies.py: success(CoT) on 1e6 triples, float64 and float32
#   sweep     bench_sweep.py: the Fig. 9 sweep, chunks of 500 and 2500 tasks (target <= 15 s)
#   optim     bench_optim.py: 225 budgets, global + Chinchilla, both methods (target <= 20 ms)
#   cache     the CLI twice with --compile-cache: the second run must log cache hits
set -u
OUT=${OUT:-gpu_out}
STAGES=${STAGES:-"env betainc layouts success sweep optim cache"}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
has() { case " $STAGES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if has env; then
  {
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    $PY -c "import jax, jaxlib, ds3jax; print('jax', jax.__version__, jax.devices()); print(ds3jax.execution_settings())"
  } 2>&1 | tee "$OUT/env.txt"
fi
if has betainc; then
  timeout 150 $PY benchmarks/bench_betainc.py --workload all --repeat 5 2>&1 | tee "$OUT/betainc_f64.txt"
  timeout 90 $PY benchmarks/bench_betainc.py --workload ds3 --repeat 5 --dtype float32 2>&1 | tee "$OUT/betainc_f32.txt"
fi
if has layouts; then
  for L in "--block none --phases 1" "--block none --phases 3" "--block 131072" "--block none --split 4 --phases 3"; do
    timeout 60 $PY benchmarks/bench_betainc.py --workload ds3 --repeat 5 --calls array,vmap_grad $L 2>&1
  done | tee "$OUT/betainc_layouts.txt"
fi
if has success; then
  timeout 60 $PY benchmarks/bench_strategies.py --repeats 5 2>&1 | tee "$OUT/success_f64.txt"
  timeout 60 $PY benchmarks/bench_strategies.py --repeats 5 --x32 2>&1 | tee "$OUT/success_f32.txt"
fi
if has sweep; then
  timeout 120 $PY benchmarks/bench_sweep.py --chunk 500 2>&1 | tee "$OUT/sweep_500.txt"
  timeout 90 $PY benchmarks/bench_sweep.py --chunk 2500 2>&1 | tee "$OUT/sweep_2500.txt"
fi
if has optim; then
  timeout 120 $PY benchmarks/bench_optim.py --budgets 225 --repeat 3 2>&1 | tee "$OUT/optim.txt"
fi
if has cache; then
  C=$(mktemp -d)
  for run in 1 2; do
    TIMEFORMAT="run $run: %R s wall (CLI sweep --quick, compile included)"
    { time env JAX_LOG_COMPILES=1 timeout 90 $PY -m experiments.cli --compile-cache "$C/cache" \
        sweep --quick --out "$C/out$run" 2>"$C/err$run" >/dev/null; } 2>&1
    echo "run $run: persistent-cache hits: $(grep -c 'Persistent compilation cache hit' "$C/err$run")"
  done 2>&1 | tee "$OUT/compile_cache.txt"
fi
