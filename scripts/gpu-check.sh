#!/usr/bin/env bash
# The GPU check (README, "Engine and GPU check"): on a machine with one CUDA GPU whose python3
# already has torch, pandas, pyarrow, scikit-learn, seaborn, joblib, tqdm, scipy and pytest
# (no install, no network; PYTHONPATH=.), runs in about 10 minutes:
#
#   1. the CUDA tests: float64 equivalence with the reference loop, capture equal to eager
#   2. nonlinbench perf --device cuda  (speed against the notebook loop on the same GPU)
#   3. the default grid on the GPU, timed, and its report (figures)
#
# Everything it writes goes under $OUT (default ./gpu-check-out): logs, perf.md/perf.csv,
# the grid's results and report, and summary.txt with each step's status and seconds.
#
#   scripts/gpu-check.sh             run it
#   scripts/gpu-check.sh --dry-run   print what it would run, and check the script's inputs
#
# Each step has a time limit (seconds, overridable: TESTS_S, PERF_S, GRID_S, REPORT_S) that
# keeps the whole within 10 minutes; a step that fails or runs out of time is recorded and the
# next one still runs. Exit status: 0 when every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."

DRY_RUN=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY_RUN=1 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "gpu-check.sh: unknown argument '$arg' (allowed: --dry-run, --help)" >&2; exit 2 ;;
    esac
done

PYTHON="${PYTHON:-python3}"
OUT="${OUT:-$PWD/gpu-check-out}"
TESTS_S="${TESTS_S:-150}"
PERF_S="${PERF_S:-180}"
GRID_S="${GRID_S:-150}"
REPORT_S="${REPORT_S:-90}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export NONLINBENCH_CACHE_DIR="${NONLINBENCH_CACHE_DIR:-$OUT/cache}"

# name | seconds | command (run by bash -c, output to $OUT/<name>.log)
STEPS=(
    "env|30|$PYTHON -c 'import sys, torch; print(sys.version); print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda); print(torch.cuda.get_device_name(0)); free, total = torch.cuda.mem_get_info(); print(f\"memory free {free / 2**30:.1f} of {total / 2**30:.1f} GiB\"); import importlib.util as u; print(\"optional:\", {m: u.find_spec(m) is not None for m in (\"numba\", \"tabulate\", \"psutil\", \"dask\")})'"
    "cuda-tests|$TESTS_S|$PYTHON -m pytest -q -p no:cacheprovider -o addopts='' -k 'cuda or graph or capturable' tests/test_engine.py"
    "perf|$PERF_S|$PYTHON -m bench perf --device cuda --repeats 3 --quick --out '$OUT/perf'"
    "default-grid|$GRID_S|$PYTHON -m bench run default --device cuda --fresh --quiet --out '$OUT/default/results'"
    "default-report|$REPORT_S|$PYTHON -m bench report --results '$OUT/default/results' --out '$OUT/default/report'"
)

if [ "$DRY_RUN" = 1 ]; then
    echo "gpu-check.sh --dry-run: would write under $OUT, with PYTHONPATH=$PYTHONPATH"
    total=0
    for step in "${STEPS[@]}"; do
        IFS='|' read -r name seconds command <<<"$step"
        total=$((total + seconds))
        echo "[$name] timeout ${seconds}s: $command"
    done
    echo "time limits add up to ${total}s"
    [ "$total" -le 600 ] || { echo "gpu-check.sh: the limits exceed 10 minutes" >&2; exit 1; }
    for file in tests/test_engine.py bench/perf/measure.py bench/engine/graphs.py bench/grids/default.toml; do
        [ -f "$file" ] || { echo "gpu-check.sh: $file is missing" >&2; exit 1; }
    done
    exit 0
fi

mkdir -p "$OUT"
summary="$OUT/summary.txt"
: >"$summary"
failed=0
for step in "${STEPS[@]}"; do
    IFS='|' read -r name seconds command <<<"$step"
    echo "[$name] $command" | tee -a "$summary"
    start=$(date +%s)
    timeout --kill-after=10 "$seconds" bash -c "$command" >"$OUT/$name.log" 2>&1
    status=$?
    elapsed=$(($(date +%s) - start))
    case "$status" in
        0) verdict="passed" ;;
        124|137) verdict="TIMED OUT after ${seconds}s"; failed=1 ;;
        *) verdict="FAILED (exit $status)"; failed=1 ;;
    esac
    echo "[$name] $verdict in ${elapsed}s (log: $OUT/$name.log)" | tee -a "$summary"
    tail -n 3 "$OUT/$name.log" | sed 's/^/    /'
done
if [ -d "$OUT/default/report" ]; then  # the figures, beside perf.md, for reports/perf/
    mkdir -p "$OUT/figures"
    find "$OUT/default/report" -name '*.png' -exec cp {} "$OUT/figures/" \;
fi
echo "gpu-check: $([ "$failed" = 0 ] && echo 'every step passed' || echo 'some steps failed'); see $summary"
exit "$failed"
