#!/usr/bin/env bash
# Rebuild the bundled models from ../shared/data (see detector/models/default/README.md and
# proposals/models/README.md). Run from the repository root in the project's virtual environment:
#
#     bash scripts/train_default_model.sh
#
# CPU only, about an hour on the 2-core development machine (the classifier pinned to one core, so that the peer
# comparison, benchmarks/peer_fasterrcnn.py, can run on the other at the same time).
set -euo pipefail
S=work/split
python scripts/default_split.py --out "$S"
TRAIN=(--gt $S/train/pennfudan.json --gt $S/train/voc2012.json --gt $S/train/coco128.json --gt $S/train/ilsvrc227.json)
VAL=(--val $S/val/pennfudan.json --val $S/val/voc2012.json --val $S/val/coco128.json --val $S/val/ilsvrc227.json)

# MultiBox proposals (issue 4): K = 200 shipped k-means priors, 160 px, half-width Inception trunk
detect train multibox "${TRAIN[@]}" "${VAL[@]}" --out work/mb/multibox.pt --input-size 160 --width 0.5 \
    --epochs 15 --batch-size 16 --lr 0.02 --device cpu

# The region classifier: GoogLeNet with BatchNorm, half width, 112 px regions, ILSVRC classes of the training data
OMP_NUM_THREADS=1 taskset -c 0 detect train ensemble --members 1 --out work/default "${TRAIN[@]}" \
    --val $S/val/pennfudan.json --classes ilsvrc --arch paper-bn --input-size 112 --width 0.5 \
    --epochs "${EPOCHS:-16}" --batch-size 128 --lr 0.02 --workers 1 --threads 1 --val-every 100 --device cpu --half
mkdir -p detector/models/default
cp work/default/member0.pt detector/models/default/member0.pt
