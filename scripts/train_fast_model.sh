#!/usr/bin/env bash
# The bundled fast-mode classifier (detector/models/fast/member0.pt; README, "Presets"): the same architecture as the
# default model, initialised from it (work/default/member0.pt, written by scripts/train_default_model.sh) and
# fine-tuned end to end in fast mode on the same training split at short side 400. About 16 minutes on the 2-core
# development machine (2 threads). Evaluate with
#     TAG=_fast_fast MODEL=work/fast/member0.pt RUN_ARGS="--preset fast --multibox work/mb/multibox.pt" \
#         bash scripts/evaluate_default_model.sh
set -euo pipefail
S=work/split
detect train classifier --out work/fast/member0.pt \
    --gt $S/train/pennfudan.json --gt $S/train/voc2012.json --gt $S/train/coco128.json --gt $S/train/ilsvrc227.json \
    --gt $S/train/coco_mini.json --gt-partial $S/train/openimages.json \
    --init "${INIT:-work/default/member0.pt}" --arch paper-bn --input-size 112 --width 0.5 \
    --mode fast --fast-short-side 400 --fast-max-side 667 --epochs 6 --schedule cosine --batch-size 128 --lr 0.005 \
    --bbox-reg --workers 1 --threads 2 --device cpu --val-every 0
