#!/usr/bin/env bash
# The fast-mode version of the bundled classifier (README, "Fast mode against crops mode"): the same architecture,
# initialised from detector/models/default/member0.pt, fine-tuned end to end in fast mode on the same training
# split. About 22 minutes on one core of the 2-core development machine. Run from the repository root after
# scripts/default_split.py (scripts/train_default_model.sh runs it); evaluate with
#     TAG=_fast MODEL=work/fast/member0.pt bash scripts/evaluate_default_model.sh
set -euo pipefail
S=work/split
OMP_NUM_THREADS=1 taskset -c 1 detect train classifier --out work/fast/member0.pt \
    --gt $S/train/pennfudan.json --gt $S/train/voc2012.json --gt $S/train/coco128.json --gt $S/train/ilsvrc227.json \
    --val $S/val/pennfudan.json --classes ilsvrc --arch paper-bn --input-size 112 --width 0.5 \
    --mode fast --init detector/models/default/member0.pt --fast-short-side 400 --fast-max-side 667 \
    --epochs 6 --batch-size 128 --lr 0.01 --workers 0 --threads 1 --val-every 100 --device cpu --half
