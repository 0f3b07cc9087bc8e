#!/usr/bin/env bash
# Validation numbers of the model cards (detector/models/default/README.md): detect run on the validation images of
# every set of scripts/default_split.py, then detect eval per set (ILSVRC metric, the classes the model knows).
# Run from the repository root after scripts/default_split.py. MODEL: a model file or folder (default: the bundled
# model detect run uses without --model); TAG names the outputs; RUN_ARGS are passed to detect run (e.g. "--proposals both");
# BOOTSTRAP=1000 adds each set's 95 % interval, BASELINE=<another TAG> the paired difference to that run's outputs.
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
for d in $SETS; do
  echo "== $d"
  detect eval --gt $S/val/$d.json --pred $E/boxes_val$TAG.json --model-classes-only --json $E/ours${TAG}_$d.json \
    ${BOOTSTRAP:+--bootstrap $BOOTSTRAP} ${BASELINE:+--baseline $E/boxes_val$BASELINE.json} \
    | grep -iE "^ *[0-9]+ +person |mAP"
done
python - "$E" "$TAG" $SETS <<'PY'
import json, sys
e, tag, sets = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"{'set':<12} {'classes':>7} {'mAP':>7} {'person AP':>9}")
for d in sets:
    r = json.load(open(f"{e}/ours{tag}_{d}.json"))
    person = next((c["AP"] for c in r["per_class"] if c["wnid"] == "n00007846"), None)
    print(f"{d:<12} {r['num_classes']:>7} {r['mAP']:>7.4f} {person if person is None else round(person, 4):>9}")
PY
