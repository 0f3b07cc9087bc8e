#!/usr/bin/env bash
# The proposal table of the README ("detect proposals"): recall and time of selective search at the paper's settings
# and cheaper OpenCV configurations, MultiBox alone (the bundled network, from the distilled trunk) and merges, on
# the validation images of every set of scripts/default_split.py (after it has run). No cache: seconds are real,
# one process (WORKERS=1: one worker process beside this one). MULTIBOX defaults to the bundled model. ONLY: the rows
# to run, by name (e.g. ONLY="multibox both both_single_w250" after a new MultiBox); default all.
set -euo pipefail
S=work/split
O=work/prop
MB=${MULTIBOX:-proposals/models/multibox.pt}
W=${WORKERS:-1}
ONLY=${ONLY:-}
SETS=${SETS:-"pennfudan voc2012 coco128 ilsvrc227 coco_mini openimages"}
mkdir -p $O
: > $O/val_images.txt
for d in $SETS; do cat $S/val/$d.txt >> $O/val_images.txt; done
python - "$O" $SETS <<'PY'
import json, sys
from pathlib import Path
o, sets = Path(sys.argv[1]), sys.argv[2:]
# one COCO file of all the validation sets' ground truth, classes kept apart (recall ignores classes)
images, anns, cats = [], [], [{"id": 1, "name": "object"}]
for d in sets:
    doc = json.load(open(f"work/split/val/{d}.json"))
    base = len(images)
    remap = {im["id"]: base + k + 1 for k, im in enumerate(doc["images"])}
    images += [{**im, "id": remap[im["id"]]} for im in doc["images"]]
    anns += [{**a, "id": len(anns) + k + 1, "image_id": remap[a["image_id"]], "category_id": 1}
             for k, a in enumerate(doc["annotations"])]
json.dump({"images": images, "annotations": anns, "categories": cats}, open(o / "val_gt.json", "w"))
PY
run() {  # name, then detect proposals options
  local name=$1; shift
  if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  local mb=()  # --multibox only where MultiBox proposes: with --method ss it is a usage error
  if [[ " $* " == *" multibox "* || " $* " == *" both "* ]]; then mb=(--multibox "$MB"); fi
  detect proposals $O/val_images.txt --gt $O/val_gt.json --no-cache --workers $W "${mb[@]}" \
    --json $O/$name.json --out $O/$name.props.json "$@" | tail -n +1
}
run paper_ss --method ss --ss-scale 2
run ss_scale1 --method ss --ss-scale 1
run ss_single --method ss --ss-mode single --ss-scale 2
run ss_w250 --method ss --ss-scale 2 --ss-resize-width 250
run ss_single_w250 --method ss --ss-mode single --ss-scale 2 --ss-resize-width 250
run multibox --method multibox
run both --method both --ss-scale 2
run both_single_w250 --method both --ss-mode single --ss-scale 2 --ss-resize-width 250
