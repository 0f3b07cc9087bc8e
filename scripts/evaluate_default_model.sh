#!/usr/bin/env bash
# Validation numbers of the model card (detector/models/default/README.md) and the peer comparison.
# Run after scripts/train_default_model.sh (and benchmarks/peer_fasterrcnn.py for the peer), from the repo root.
set -euo pipefail
S=work/split
E=work/eval
MODEL=${MODEL:-detector/models/default}
TAG=${TAG:-}  # e.g. TAG=_fast MODEL=work/fast/member0.pt: outputs boxes_val_fast.json, ours_fast_<set>.json
mkdir -p $E
cat $S/val/pennfudan.txt $S/val/voc2012.txt $S/val/coco128.txt $S/val/ilsvrc227.txt > $E/val_images.txt
detect run $E/val_images.txt --model "$MODEL" --out $E/boxes_val$TAG.json ${RUN_ARGS:-}
for d in pennfudan voc2012 coco128 ilsvrc227; do
  echo "== ours on $d"
  detect eval --gt $S/val/$d.json --pred $E/boxes_val$TAG.json --model-classes-only --json $E/ours${TAG}_$d.json | tail -1
  if [ -f work/peer/boxes_$d.json ]; then
    echo "== peer on $d"
    detect eval --gt $S/val/$d.json --pred work/peer/boxes_$d.json --model-classes-only --json $E/peer_$d.json \
      | tail -1
  fi
done
