#!/usr/bin/env bash
# Train one HPPNet variant for a fixed number of minutes on a lent GPU machine, from a
# packed corpus carried with the working tree, and leave what must come back in $OUT
# (at most 8 files of at most 15 MiB: the resumable checkpoint is split). See docs/gpu-training.md.
#
#   VARIANT=sp MINUTES=8 DATA=.gpu-data bash training/device_train.sh
#
# Tested on CPU with tiny settings (VARIANT=tiny MINUTES=0.2 BATCH=2 DEVICE=cpu). Also
# resumes: put an earlier run's files (last.pt.part-*, metrics.csv, run.json) in $RESUME.
set -euo pipefail
VARIANT=${VARIANT:-sp}
MINUTES=${MINUTES:-8}
DATA=${DATA:-.gpu-data}
BATCH=${BATCH:-16}
CROP=${CROP:-10}
LR=${LR:-1.5e-3}
DECAY_STEPS=${DECAY_STEPS:-1000}
VALIDATE=${VALIDATE:-250}
DEVICE=${DEVICE:-auto}
RESUME=${RESUME:-}
OUT=${OUT:?set OUT to the folder whose files come back}
export PYTHONUNBUFFERED=1

# Dependencies the GPU image lacks travel as wheels in .whl/ (see docs/gpu-training.md);
# the package runs from a copy laid out as installed (adapters/ and training/ inside).
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
rm -rf /tmp/hppnet-src && mkdir -p /tmp/hppnet-src
cp -r hppnet_plugin /tmp/hppnet-src/ && cp -r adapters training /tmp/hppnet-src/hppnet_plugin/
export PYTHONPATH=/tmp/hppnet-src:${PYTHONPATH:-}

RUN=/tmp/hppnet-run
mkdir -p "$RUN"
if [ -n "$RESUME" ]; then
  cat "$RESUME"/last.pt.part-* > "$RUN/last.pt"
  cp "$RESUME"/metrics.csv "$RESUME"/run.json "$RUN/"
fi
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
python3 -m hppnet_plugin.training train --data "$DATA" --out "$RUN" --variant "$VARIANT" --steps 1000000 \
  --max-minutes "$MINUTES" --batch-size "$BATCH" --crop-seconds "$CROP" --lr "$LR" \
  --lr-decay-steps "$DECAY_STEPS" --lr-decay 0.9 --validate-every "$VALIDATE" --validation-pieces 12 \
  --checkpoint-minutes 1 --log-every 50 --no-progress --workers 4 --device "$DEVICE" 2>&1 | tee "$OUT/train.log"
# Thresholds calibrated on the packed validation split; the curve needs matplotlib (in the image).
python3 -m hppnet_plugin.training export "$RUN/best.pt" "$OUT/hppnet-$VARIANT.pt" --overwrite \
  --calibrate "$DATA" --curve "$OUT/hppnet-$VARIANT-learning-curve.png"
cp "$RUN/metrics.csv" "$RUN/run.json" "$OUT/"
split -b 15M "$RUN/last.pt" "$OUT/last.pt.part-"
ls -la "$OUT"
