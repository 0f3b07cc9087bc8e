#!/usr/bin/env bash
# The README's single-class recipe against the peer a user would pick instead, same minutes on the same machine:
#   ours:  the distilled GoogLeNet trunk fine-tuned as a region classifier on the Penn-Fudan training images only
#   peer:  torchvision fasterrcnn_mobilenet_v3_large_fpn from scratch on the same images, for as many minutes
# both scored on the Penn-Fudan validation images (ILSVRC metric = AP at IoU 0.5 here: pedestrians are large).
# Run from the repository root after scripts/train_default_model.sh (it needs work/split and the distilled trunk).
set -euo pipefail
S=work/split
P=work/pedestrians
DISTILLED=${DISTILLED:-work/distill/student.pt}
EPOCHS=${EPOCHS:-30}
mkdir -p $P
start=$(date +%s)
detect train classifier --out $P/person.pt --gt $S/train/pennfudan.json --init "$DISTILLED" --class-map none \
    --arch paper-bn --input-size 112 --width 0.5 --epochs "$EPOCHS" --batch-size 128 --lr 0.01 --bbox-reg --device cpu
minutes=$(python -c "print(($(date +%s) - $start) / 60)")
echo "ours trained in $minutes minutes"
python benchmarks/peer_fasterrcnn.py --split $S --train pennfudan --val pennfudan --minutes "$minutes" --out $P/peer
detect run $S/val/pennfudan.txt --model $P/person.pt --proposals "${PROPOSALS:-both}" --out $P/boxes_ours.json
for who in ours peer/boxes_pennfudan; do
  f=$P/boxes_$who.json; [ -f "$f" ] || f=$P/$who.json
  echo "== $who"; detect eval --gt $S/val/pennfudan.json --pred "$f" --metric voc --json $P/eval_$(basename $who).json | tail -1
done
