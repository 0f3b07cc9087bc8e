#!/usr/bin/env bash
# Rebuild the bundled models from ../shared/data (detector/models/default/README.md, proposals/models/README.md).
# Run from the repository root in the project's virtual environment with the distillation extra installed
# (pip install -e '.[distill]'):
#
#     bash scripts/train_default_model.sh
#
# CPU only, about five hours on the 2-core development machine (distillation 100 minutes, the crops-mode member 93,
# MultiBox 9, the three fast-mode members 35-41 each); on a GPU (DEVICE=cuda) the distillation takes minutes. Steps: the split;
# ImageNet knowledge distilled from EfficientNet-Lite0 into the GoogLeNet trunk; the region classifier from that
# trunk (1,000 ImageNet outputs mapped onto the 200 DET classes) fine-tuned on every training image in crops mode;
# MultiBox from the classifier's trunk; three members fine-tuned from the classifier in fast mode (seeds 0, 1, 2); float16 copies without the
# auxiliary heads into the package (the four members are the bundled ensemble).
#
# The CPU path in well under an hour (issue 14; README "The CPU path in under an hour"):
#
#     QUICK=1 bash scripts/train_default_model.sh
#
# runs the split, distillation (14 epochs, DISTILL_EPOCHS) and the crops-mode member (20, EPOCHS) only: 54 minutes
# measured here (mean validation mAP 0.098 against the bundled member0's 0.139; 8 and 8 epochs: 25 minutes, 0.045, no
# better than the model of before distillation), into work/quick/ (QUICK_DIR: the photo lists, student.pt,
# member0.pt); nothing is bundled, MultiBox and the fast members are not trained. Score it (selective search, crops):
#     TAG=_quick MODEL=work/quick/member0.pt bash scripts/evaluate_default_model.sh
set -euo pipefail
S=work/split
QUICK=${QUICK:-0}
D=work/distill
MEMBER=work/default/member0.pt
if [ "$QUICK" = 1 ]; then
  D=${QUICK_DIR:-work/quick}; MEMBER=$D/member0.pt; DISTILL_EPOCHS=${DISTILL_EPOCHS:-14}; EPOCHS=${EPOCHS:-20}
fi
DEVICE=${DEVICE:-cpu}
python scripts/default_split.py --out "$S"
TRAIN=(--gt $S/train/pennfudan.json --gt $S/train/voc2012.json --gt $S/train/coco128.json --gt $S/train/ilsvrc227.json
       --gt $S/train/coco_mini.json)
PARTIAL=(--gt-partial $S/train/openimages.json)  # Open Images labels are not exhaustive

# 1. distillation: ImageNet photos (80 % of the 1,000 samples, Imagenette train) and every training detection image
python scripts/distill_photo_lists.py --data ../shared/data --out "$D"
SECONDS=0
detect train distill --out $D/student.pt --photos $D/photos_train.txt "${TRAIN[@]}" \
    --gt $S/train/openimages.json --val-photos $D/photos_val_inet.txt --val-photos $D/photos_val_nette.txt \
    --arch paper-bn --width 0.5 --input-size 112 --epochs "${DISTILL_EPOCHS:-30}" --batch-size 128 --lr 2e-3 \
    --device "$DEVICE"

# 2. the region classifier from the distilled trunk, every training image (no validation: the last epoch is kept)
echo "distillation: $SECONDS s"
detect train classifier --out "$MEMBER" "${TRAIN[@]}" "${PARTIAL[@]}" --init $D/student.pt \
    --arch paper-bn --input-size 112 --width 0.5 --epochs "${EPOCHS:-30}" --schedule cosine --batch-size 128 --lr 0.01 \
    --bbox-reg --bg-iou-low 0 --workers 1 --val-every 0 --device "$DEVICE"
echo "distillation and the crops-mode member: $SECONDS s"
if [ "$QUICK" = 1 ]; then
  echo "QUICK=1: $MEMBER written (with the bundled MultiBox: detect run IMAGES --model $MEMBER --proposals both)"
  exit 0
fi

# 3. MultiBox from step 2's trunk (K = 200 shipped k-means priors, 160 px, half width; exhaustive sets only): 60
#     epochs with random crops (SSD's), no validation (the last epoch is kept); about 9 minutes
detect train multibox "${TRAIN[@]}" --out work/mb/multibox.pt --init "$MEMBER" --input-size 160 \
    --width 0.5 --epochs 60 --batch-size 16 --lr 0.02 --crop-min-area 0.3 --device "$DEVICE"

# 4. the ensemble's fast-mode members: the same network fine-tuned from step 2's in fast mode, three seeds
#    (scripts/train_fast_model.sh)
for seed in 0 1 2; do INIT=work/default/member0.pt SEED=$seed bash scripts/train_fast_model.sh; done

# 5. float16 copies (the classifiers without their auxiliary heads) into the package (within 30 MB together)
python scripts/bundle_models.py --crops work/default/member0.pt --fast work/fast224b/member0.pt \
    --fast work/fast224s1/member0.pt --fast work/fast224s2/member0.pt --multibox work/mb/multibox.pt
