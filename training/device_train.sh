#!/usr/bin/env bash
# Train HPPNet variants side by side for a fixed number of minutes on one GPU machine, from a
# packed corpus copied there (training/pack.py), and leave what should come back in $OUT:
# the exported best checkpoints, each run's resumable last.pt split into PART_MIB parts (default
# 15), and one archive of sidecars, metrics, run.json, curves and logs. See docs/gpu-training.md.
#
#   VARIANTS="base sp" WARM_SP_AT=3 MINUTES=6.5 DATA=.gpu-data OUT=/tmp/out bash training/device_train.sh
#
# Each variant trains in its own process (a ~1-2.5M-parameter model leaves most of a large GPU
# idle, so two or three runs share it at little cost each). WARM_SP_AT=M also starts, M
# minutes in, an sp seeded from base's best checkpoint so far (training/warm_start.py) that
# trains until the same deadline; of the two sp runs, the one with the better validation
# note F1 comes back, and both learning curves (metrics.csv) do.
#
# Try it on the CPU with tiny settings first: VARIANTS="base sp" WARM_SP_AT=0.3 MINUTES=0.8 BATCH=1
# CROP=2 VALIDATE=5 DEVICE=cpu. Resumes: put an earlier call's files in $RESUME
# (<variant>-last.pt.part-*, and runs.tar.gz) and leave WARM_SP_AT unset, or set
# RESUME_COMMITTED=1 to continue run state kept in the checkout under runs/hppnet-<variant>/.
# TRAIN_ARGS="..." adds train options to every run (a resumed run's recipe, e.g.
# TRAIN_ARGS="--edge-crops --note-free-weight 2").
# EXTRA_RUN="NAME VARIANT [train args...]" adds one more run beside them, in /tmp/run-NAME, with
# its own settings (later options win: EXTRA_RUN="base-paper base --lr 6e-4 --batch-size 4"); it
# comes back like a variant (hppnet-NAME.pt, NAME-last.pt.part-*, run-NAME/ in runs.tar.gz).
set -euo pipefail
VARIANTS=${VARIANTS:-${VARIANT:-sp}}
MINUTES=${MINUTES:-8}
WARM_SP_AT=${WARM_SP_AT:-}
DATA=${DATA:-.gpu-data}
BATCH=${BATCH:-4}
CROP=${CROP:-10}
LR=${LR:-6e-4}
DECAY_STEPS=${DECAY_STEPS:-1000}
VALIDATE=${VALIDATE:-250}
DEVICE=${DEVICE:-auto}
WORKERS=${WORKERS:-3}
RESUME=${RESUME:-}
OUT=${OUT:?set OUT to the folder whose files come back}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
T0=$(date +%s)

# Dependencies the GPU machine lacks can travel as wheels in .whl/ (see docs/gpu-training.md);
# the package runs from a copy laid out as installed (adapters/ and training/ inside).
if [ -z "${SKIP_WHEELS:-}" ] && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
rm -rf /tmp/hppnet-src && mkdir -p /tmp/hppnet-src
cp -r hppnet_plugin /tmp/hppnet-src/ && cp -r adapters training /tmp/hppnet-src/hppnet_plugin/
export PYTHONPATH=/tmp/hppnet-src:${PYTHONPATH:-}
# Run from outside the checkout: `python -m` puts the current folder first on sys.path, and the
# checkout's hppnet_plugin/ has no training/ inside.
DATA=$(realpath "$DATA"); [ -z "$RESUME" ] || RESUME=$(realpath "$RESUME")
CHECKOUT=$(pwd)
cd /tmp
LOGS=/tmp/hppnet-logs && mkdir -p "$LOGS"
python3 -c "import torch, nnAudio, mir_eval, soundfile, soxr, pretty_midi, scipy, matplotlib; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')" 2>&1 | tee "$LOGS/setup.log"

train() {  # train VARIANT RUN_DIR MINUTES [extra train args...]
  local variant=$1 run=$2 minutes=$3; shift 3
  python3 -m hppnet_plugin.training train --data "$DATA" --out "$run" --variant "$variant" --steps 1000000 \
    --max-minutes "$minutes" --batch-size "$BATCH" --crop-seconds "$CROP" --lr "$LR" \
    --lr-decay-steps "$DECAY_STEPS" --lr-decay 0.9 --validate-every "$VALIDATE" --validation-pieces "${VAL_PIECES:-12}" \
    --checkpoint-minutes 1 --log-every 50 --no-progress --workers "$WORKERS" --device "$DEVICE" ${TRAIN_ARGS:-} "$@" \
    > "$LOGS/train-$(basename "$run").log" 2>&1
}

# Features once, in parallel, before the runs start (they then only read the cache).
python3 -m hppnet_plugin.training train --data "$DATA" --out /tmp/hppnet-cache-run --variant tiny \
  --cache-only --cache-workers "$(nproc)" --no-progress 2>&1 | tee "$LOGS/cache.log"
echo "setup + cache: $(( $(date +%s) - T0 )) s"
T1=$(date +%s)

pids=()
for v in $VARIANTS; do
  mkdir -p "/tmp/run-$v"
  if [ -n "$RESUME" ] && ls "$RESUME/$v-last.pt.part-"* >/dev/null 2>&1; then
    cat "$RESUME/$v-last.pt.part-"* > "/tmp/run-$v/last.pt"
    tar -xzf "$RESUME/runs.tar.gz" -C /tmp "run-$v/metrics.csv" "run-$v/run.json" 2>/dev/null || true
  elif [ -n "${RESUME_COMMITTED:-}" ] && [ -f "$CHECKOUT/runs/hppnet-$v/last.pt" ]; then
    cp "$CHECKOUT/runs/hppnet-$v/"{last.pt,metrics.csv,run.json} "/tmp/run-$v/"  # the committed run state
  fi
  [ -f "/tmp/run-$v/last.pt" ] && echo "$v resumes from step $(python3 -c "import torch; print(torch.load('/tmp/run-$v/last.pt', weights_only=True, map_location='cpu')['step'])")"
  train "$v" "/tmp/run-$v" "$MINUTES" & pids+=($!)
done
RUNS="$VARIANTS"
if [ -n "${EXTRA_RUN:-}" ]; then
  read -r -a extra <<< "$EXTRA_RUN"
  name=${extra[0]}; RUNS="$RUNS $name"
  mkdir -p "/tmp/run-$name"
  if [ -n "$RESUME" ] && ls "$RESUME/$name-last.pt.part-"* >/dev/null 2>&1; then
    cat "$RESUME/$name-last.pt.part-"* > "/tmp/run-$name/last.pt"
    tar -xzf "$RESUME/runs.tar.gz" -C /tmp "run-$name/metrics.csv" "run-$name/run.json" 2>/dev/null || true
  fi
  train "${extra[1]}" "/tmp/run-$name" "$MINUTES" "${extra[@]:2}" & pids+=($!)
fi
if [ -n "$WARM_SP_AT" ]; then
  sleep "$(python3 -c "print(max(0.0, $WARM_SP_AT * 60 - ($(date +%s) - $T1)))")"
  for _ in $(seq 120); do  # base's first checkpoint (validation or the 1-minute checkpoint)
    [ -f /tmp/run-base/best.pt ] || [ -f /tmp/run-base/last.pt ] && break; sleep 1
  done
  seed=/tmp/run-base/best.pt; [ -f "$seed" ] || seed=/tmp/run-base/last.pt
  if cp "$seed" /tmp/base-seed.pt 2>/dev/null; then
    echo "sp-warm starts from base $(python3 -c "import torch; print('step', torch.load('/tmp/base-seed.pt', weights_only=True, map_location='cpu')['step'])")"
    elapsed=$(( $(date +%s) - T1 ))
    rest=$(python3 -c "print(max(0.2, $MINUTES - $elapsed / 60))")
    mkdir -p /tmp/run-sp-warm
    train sp /tmp/run-sp-warm "$rest" --init-from /tmp/base-seed.pt --warmup-steps "${WARMUP:-100}" & pids+=($!)
  else
    echo "no base checkpoint to seed sp from: no warm-start run"
  fi
fi
command -v nvidia-smi >/dev/null && (for _ in 1 2 3; do sleep 40; nvidia-smi --query-gpu=utilization.gpu,memory.used \
  --format=csv,noheader; done > "$LOGS/gpu-utilisation.log" 2>&1 &)
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
echo "training done after $(( $(date +%s) - T0 )) s (status $status)"
tail -n 3 "$LOGS"/train-*.log || true

# Of two sp runs, keep the one with the better validation note F1 (both curves come back).
best_f1() { python3 - "$1" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1] + "/metrics.csv")) if r["kind"] == "validation"]
print(max([float(r["note_f1"]) for r in rows] or [-1.0]))
EOF
}
if [ -d /tmp/run-sp-warm ] && [ -d /tmp/run-sp ]; then
  warm=$(best_f1 /tmp/run-sp-warm); scratch=$(best_f1 /tmp/run-sp)
  echo "sp validation note F1: warm start $warm, from scratch $scratch"
  if python3 -c "import sys; sys.exit(not ($warm > $scratch))"; then
    mv /tmp/run-sp /tmp/run-sp-scratch && mv /tmp/run-sp-warm /tmp/run-sp
  else
    mv /tmp/run-sp-warm /tmp/run-sp-warmstart
  fi
fi

if [ -d /tmp/run-sp-warm ] && [ ! -d /tmp/run-sp ]; then  # VARIANTS=base WARM_SP_AT=M: the seeded sp is the sp
  mv /tmp/run-sp-warm /tmp/run-sp && RUNS="$RUNS sp"
fi

# Export the best checkpoints, in parallel. Thresholds are calibrated back home on the full-quality
# validation split: `export hppnet-<v>.pt hppnet_plugin/weights/hppnet-<v>.pt --calibrate CORPUS`.
epids=()
for v in $RUNS; do
  [ -f "/tmp/run-$v/best.pt" ] || continue
  python3 -m hppnet_plugin.training export "/tmp/run-$v/best.pt" "$OUT/hppnet-$v.pt" --overwrite \
    --curve "/tmp/run-$v/hppnet-$v-learning-curve.png" > "$LOGS/export-$v.log" 2>&1 & epids+=($!)
done
for p in "${epids[@]}"; do wait "$p" || status=1; done
for v in $RUNS; do
  [ -f "/tmp/run-$v/last.pt" ] && split -b "${PART_MIB:-15}M" "/tmp/run-$v/last.pt" "$OUT/$v-last.pt.part-"
  [ -f "$OUT/hppnet-$v.json" ] && mv "$OUT/hppnet-$v.json" "/tmp/run-$v/"
done
# Everything small in one archive: sidecars, metrics, run.json, curves, logs of every run.
cp -r "$LOGS" /tmp/logs
(cd /tmp && tar -czf "$OUT/runs.tar.gz" --exclude='*.pt' --exclude='*.npz' run-* logs)
ls -la "$OUT"
echo "total $(( $(date +%s) - T0 )) s"
exit $status
