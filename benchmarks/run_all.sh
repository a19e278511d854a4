#!/usr/bin/env bash
# Every benchmark, one after the other (never two at once: they would time each other), each writing
# benchmarks/results/<name>.json. Pass --quick for the small sizes (minutes each on a 2-core CPU).
#
#   GDRT_DATA=../shared/datasets bash benchmarks/run_all.sh --quick
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${VENV:-$ROOT/.venv}/bin/python"
for b in cbs_vs_hf cbs_speedups cbs_vs_beam cbs_scaling attribution train_step; do
  echo "==> $b $*"
  start=$(date +%s)
  "$PY" "benchmarks/$b.py" "$@"
  echo "    $b: $(( $(date +%s) - start )) s"
done
