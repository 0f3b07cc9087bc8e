#!/usr/bin/env bash
# Hard negative mining for the crops-mode member (R-CNN's, here for the softmax classifier): the member's detections
# on the training images (`detect run`), then the member fine-tuned with those that lie off every object drawn as
# background (`detect train classifier --hard-negatives`). CONTROL=1: the same fine-tuning without them (the ablation:
# the same epochs and schedule, so that a gain is the hard negatives' and not the extra epochs').
#
#     bash scripts/train_hard_negatives.sh                  # writes work/hardneg/member0.pt
#     CONTROL=1 bash scripts/train_hard_negatives.sh        # writes work/hardneg/control.pt
#
# Needs work/split (scripts/default_split.py) and the member to start from (INIT, default the bundled crops member's
# float32 original, work/final_bg0/member0.pt, written by step 3 of scripts/train_default_model.sh).
set -euo pipefail
S=work/split
H=${H:-work/hardneg}
INIT=${INIT:-work/final_bg0/member0.pt}
mkdir -p "$H"
TRAIN=(--gt $S/train/pennfudan.json --gt $S/train/voc2012.json --gt $S/train/coco128.json --gt $S/train/ilsvrc227.json
       --gt $S/train/coco_mini.json --gt-partial $S/train/openimages.json)
COMMON=(--init "$INIT" --arch paper-bn --input-size 112 --width 0.5 --epochs "${EPOCHS:-6}" --schedule cosine
        --batch-size 128 --lr 0.003 --bbox-reg --bg-iou-low 0 --workers 1 --threads 2 --val-every 0
        --device "${DEVICE:-cpu}")
if [ "${CONTROL:-0}" = 1 ]; then
    detect train classifier --out "$H/control.pt" "${TRAIN[@]}" "${COMMON[@]}"
    exit
fi
# 1. the member's detections on every training image (selective search from the cache the training filled)
cat $S/train/pennfudan.txt $S/train/voc2012.txt $S/train/coco128.txt $S/train/ilsvrc227.txt $S/train/coco_mini.txt \
    $S/train/openimages.txt > "$H/train_images.txt"
[ -f "$H/member0_train.json" ] || detect run "$H/train_images.txt" --model "$INIT" --out "$H/member0_train.json"
# 2. fine-tuning with them: up to half of each image's background regions are its detections off every object
detect train classifier --out "$H/member0.pt" "${TRAIN[@]}" --hard-negatives "$H/member0_train.json" \
    --hard-fraction 0.5 "${COMMON[@]}"
