#!/usr/bin/env bash
# Validation numbers of the model cards (detector/models/default/README.md): detect run on the validation images of
# every set of scripts/default_split.py, then detect eval per set (ILSVRC metric, the classes the model knows).
# Run from the repository root after scripts/default_split.py. MODEL: a model file or folder (default: the bundled
# model detect run uses without --model); TAG names the outputs; RUN_ARGS are passed to detect run (e.g. "--proposals both");
# BOOTSTRAP=1000 adds 95 % intervals (each set's and the mean's), BASELINE=<another TAG> the paired difference to that
# run's outputs. Notes of the evaluation (predictions left out) go to work/eval/notes$TAG.txt.
#     TAG=_zeroshot MODEL=work/distill/student.pt bash scripts/evaluate_default_model.sh
set -euo pipefail
S=work/split
E=work/eval
MODEL=${MODEL:-}  # empty: no --model, the bundled model detect run chooses (the default ensemble; --preset fast's own)
TAG=${TAG:-}
SETS=${SETS:-"pennfudan voc2012 coco128 ilsvrc227 coco_mini openimages"}
mkdir -p $E
: > $E/val_images$TAG.txt
for d in $SETS; do cat $S/val/$d.txt >> $E/val_images$TAG.txt; done
detect run $E/val_images$TAG.txt ${MODEL:+--model "$MODEL"} --out $E/boxes_val$TAG.json ${RUN_ARGS:-}
GTS=(); for d in $SETS; do GTS+=(--gt $S/val/$d.json); done
# every set's mAP and their mean (each set weighing the same) in one evaluation; with BOOTSTRAP, the mean's interval
# resamples each set's images on their own
detect eval "${GTS[@]}" --pred $E/boxes_val$TAG.json --model-classes-only --json $E/ours$TAG.json \
  ${BOOTSTRAP:+--bootstrap $BOOTSTRAP} ${BASELINE:+--baseline $E/boxes_val$BASELINE.json} 2> $E/notes$TAG.txt
python - "$E/ours$TAG.json" <<'PY'
import json, sys
from pathlib import Path
r = json.load(open(sys.argv[1]))
print(f"{'set':<12} {'classes':>7} {'mAP':>7} {'person AP':>9}")
for d in r["datasets"]:
    person = next((c["AP"] for c in d["per_class"] if c["wnid"] == "n00007846"), None)
    print(f"{Path(d['gt']).stem:<12} {d['num_classes']:>7} {d['mAP']:>7.4f} {person if person is None else round(person, 4):>9}")
print(f"{'mean':<12} {'':>7} {r['mean']['mAP']:>7.4f}")
PY
