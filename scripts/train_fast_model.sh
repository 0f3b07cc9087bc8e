#!/usr/bin/env bash
# A fast-mode member of the bundled ensemble (detector/models/default/member1.pt … member3.pt with SEED=0, 1, 2;
# README, "Bundled models"): the
# same architecture as the crops-mode member, initialised from it (work/default/member0.pt, the float32 original of
# the bundled member0, written by step 3 of scripts/train_default_model.sh — the bundled file's run used that run's
# file, work/final_bg0/member0.pt; INIT= another) and fine-tuned end to end in fast mode on the same training split at
# short side 224 — about the scale at which crops mode sees objects — with far background. 41 minutes on the 2-core
# development machine (2 threads, niced, other jobs sharing the cores). DEVICE=cuda on a GPU. SEED (default 0) sets
# the sampling order and augmentation; OUT the file (default work/fast224b/member0.pt for seed 0, work/fast224s<SEED>/
# member0.pt otherwise). Evaluate one alone with
#     TAG=_f224b_fast MODEL=work/fast224b/member0.pt RUN_ARGS="--mode fast" bash scripts/evaluate_default_model.sh
set -euo pipefail
S=work/split
SEED=${SEED:-0}
if [ "$SEED" = 0 ]; then DEFAULT_OUT=work/fast224b/member0.pt; else DEFAULT_OUT=work/fast224s$SEED/member0.pt; fi
detect train classifier --out "${OUT:-$DEFAULT_OUT}" --seed "$SEED" \
    --gt $S/train/pennfudan.json --gt $S/train/voc2012.json --gt $S/train/coco128.json --gt $S/train/ilsvrc227.json \
    --gt $S/train/coco_mini.json --gt-partial $S/train/openimages.json \
    --init "${INIT:-work/default/member0.pt}" --arch paper-bn --input-size 112 --width 0.5 \
    --mode fast --fast-short-side 224 --fast-max-side 400 --epochs 20 --schedule cosine --batch-size 128 --lr 0.01 \
    --bbox-reg --bg-iou-low 0 --workers 1 --threads 2 --device "${DEVICE:-cpu}" --val-every 0
