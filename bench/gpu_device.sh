#!/usr/bin/env bash
# The GPU benchmark on a lent device, run from the repository root:  bash bench/gpu_device.sh
# Extra arguments go to bench/gpu.py (a CPU check of this script: DATA=seedling_clf/sample bash bench/gpu_device.sh --smoke).
# Needs the carried wheels in .whl/ (fastai and the packages the device lacks) and the full data in
# .gpu_data/plant-seedlings-150. BUDGET_S (default 400) bounds bench/gpu.py's parts; results, the log and the
# preset runs' metrics go to $OUT (or bench/results only, without $OUT), even if the benchmark fails.
set -u
BUDGET_S=${BUDGET_S:-400}
DATA=${DATA:-.gpu_data/plant-seedlings-150}
OUT=${OUT:-}
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD MPLBACKEND=Agg PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import seedling_clf.train, seedling_clf.cli; from seedling_clf.models import package_weights as p; print('weights:', p('tf_efficientnet_lite0').name, p('tf_efficientnet_lite2').name)" \
  || echo "preflight: an import or a weights package is missing (see above); the benchmark records the errors per part"
python3 bench/gpu.py --data "$DATA" --budget_s "$BUDGET_S" "$@" 2>&1 | tee /tmp/gpu_log.txt
rc=${PIPESTATUS[0]}
if [ -n "$OUT" ]; then
  mkdir -p "$OUT/results" "$OUT/runs"
  cp bench/results/gpu*.json bench/results/gpu*.md /tmp/gpu_log.txt "$OUT/results/" 2>/dev/null
  for d in bench/runs/gpu*/*/; do
    [ -d "$d" ] || continue
    run="$OUT/runs/$(basename "$(dirname "$d")")_$(basename "$d")"
    mkdir -p "$run" && cp "$d"metrics.json "$d"history.csv "$run/" 2>/dev/null
  done
fi
exit $rc
