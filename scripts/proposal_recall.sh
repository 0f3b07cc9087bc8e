#!/usr/bin/env bash
# The proposal table of the README (issue 4): selective search at scale 1 and 2, MultiBox alone, and the merge, on
# the validation images of Penn-Fudan and the COCO subset (MultiBox was trained on the training split).
# Run after scripts/default_split.py; MULTIBOX defaults to the bundled model. No cache, so seconds are real.
set -euo pipefail
S=work/split
O=work/prop
MB=${MULTIBOX:-proposals/models/multibox.pt}
W=${WORKERS:-1}
mkdir -p $O
for d in pennfudan coco128; do
  detect proposals $S/val/$d.txt --gt $S/val/$d.json --method ss --ss-scale 1 --no-cache --workers $W \
    --json $O/val_${d}_scale1.json --out $O/val_${d}_scale1.props.json
  detect proposals $S/val/$d.txt --gt $S/val/$d.json --method ss --method multibox --method both --ss-scale 2 \
    --multibox "$MB" --no-cache --workers $W --json $O/val_${d}_scale2.json --out $O/val_${d}_both.props.json
done
