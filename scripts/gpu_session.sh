#!/usr/bin/env bash
# One lent-GPU session (issue 14 item 5): go on distilling the ImageNet teacher into the student, then retrain from it
# MultiBox, the crops-mode member and three fast-mode members — the bundled model's recipe (scripts/
# train_default_model.sh) — each step given a share of the time, all in one device call of under ten minutes.
#
# Here, first (the kit: photos, training images and their proposals, the teacher, the CPU student; ~42 MB, which
# with the tracked files stays under the device tool's 64 MiB):
#     python scripts/gpu_kit.py --out gpu_kit
# Then the device call (run tool; the machine has torch, torchvision, timm, OpenCV without contrib — selective
# search comes from the kit's proposals — and no package registry):
#     run(command="bash scripts/gpu_session.sh", carry=["gpu_kit"], timeout_s=600)
# It writes to $OUT (8 files at most come back, 16 MB each): student.pt, multibox.pt, member0.pt (crops),
# member1-3.pt (fast) — the classifiers as float16 without their auxiliary heads —, session.log and record.json (machine, torch, each step's epochs, seconds and log). Each model is copied to $OUT as
# soon as it is trained, so a call cut short still returns what was done. Then, here:
#     python scripts/bundle_models.py --crops G/member0.pt --fast G/member1.pt --fast G/member2.pt \
#         --fast G/member3.pt --multibox G/multibox.pt      # G: the folder the files came back to
#     TAG=_gpu bash scripts/evaluate_default_model.sh
#
# Each step first trains one epoch to time it (model loading, decoding and one epoch), then trains for as many
# epochs as fit what is left of its budget of seconds (BUDGET_DISTILL, BUDGET_MB, BUDGET_CROPS, BUDGET_FAST per fast member), within
# the recipe's own epoch counts as a ceiling. KIT (default gpu_kit) and OUT (default work/gpu_session, in the
# repository; the device tool sets OUT) relative to the folder the script is called from. A CPU rehearsal on a
# small kit:
#     python scripts/gpu_kit.py --out /tmp/kit --limit 6
#     KIT=/tmp/kit OUT=/tmp/gs DEVICE=cpu WORKERS=0 BUDGET_DISTILL=1 BUDGET_MB=1 BUDGET_CROPS=1 BUDGET_FAST=1 \
#         bash scripts/gpu_session.sh
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd) || exit 1
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }  # relative to where the script was called
KIT=$(abs "${KIT:-$ROOT/gpu_kit}")
OUT=$(abs "${OUT:-$ROOT/work/gpu_session}")
cd "$ROOT" || exit 1  # the repository root: the package is imported from here
DEVICE=${DEVICE:-cuda}
WORKERS=${WORKERS:-12}
BUDGET_DISTILL=${BUDGET_DISTILL:-230}
BUDGET_MB=${BUDGET_MB:-25}
BUDGET_CROPS=${BUDGET_CROPS:-110}
BUDGET_FAST=${BUDGET_FAST:-30}
T=${TMPDIR:-/tmp}/gpu_session.$$
mkdir -p "$OUT" "$T" || exit 1
trap 'rm -rf "$T"' EXIT
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 DETECT_CACHE_DIR="$T/cache"
PY=${PYTHON:-python3}
detect() { "$PY" -m cli.main "$@"; }
exec > >(tee -a "$OUT/session.log") 2>&1
START=$(date +%s)
echo "== $(date -u +%FT%TZ) gpu_session on $(hostname), device $DEVICE, kit $KIT"
"$PY" - <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PY
"$PY" -c "import click, cv2, numpy, PIL, scipy, timm, torch, torchvision, tqdm" || {
  echo "gpu_session: a package the training needs is missing here (above): nothing was run"; exit 1; }
[ -f "$KIT/manifest.json" ] || { echo "gpu_session: no kit at $KIT (python scripts/gpu_kit.py --out $KIT)"; exit 1; }
"$PY" scripts/gpu_kit.py --unpack "$KIT" --cache "$DETECT_CACHE_DIR" || exit 1

DET=(--gt "$KIT/det/pennfudan.json" --gt "$KIT/det/voc2012.json" --gt "$KIT/det/coco128.json"
     --gt "$KIT/det/ilsvrc227.json" --gt "$KIT/det/coco_mini.json")
PARTIAL=(--gt-partial "$KIT/det/openimages.json")
STEPS=()

epochs_for() {  # NAME BUDGET MAX CMD...: CMD for one epoch into $T/cal_NAME.pt; prints the epochs that fit what
               # is left of BUDGET s after that timing run
  local name=$1 budget=$2 max=$3; shift 3
  local t0; t0=$(date +%s.%N)
  if ! "$@" --epochs 1 --out "$T/cal_$name.pt" > "$T/cal_$name.log" 2>&1; then
    tail -5 "$T/cal_$name.log" >&2; echo 0; return
  fi
  "$PY" - "$T/cal_$name.log.jsonl" "$t0" "$budget" "$max" <<'PY'
import json, sys, time
rec = json.loads(open(sys.argv[1]).readline())
wall = time.time() - float(sys.argv[2])
budget, most = float(sys.argv[3]), int(sys.argv[4])
epoch = max(rec["seconds"], 1e-3)
start = max(0.0, wall - epoch)  # loading, decoding, validation: paid once per run
print(max(1, min(most, int((budget - wall - start) // epoch))))
PY
}

FAILED=0
write_record() {  # record.json as it stands: written after every step, so a call cut short still has one
  "$PY" - "$OUT/record.json" "$T" "$KIT" "$START" "${STEPS[@]}" <<'PY'
import json, platform, sys, time
from pathlib import Path
import torch
out, tmp, kit, start, steps = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]), sys.argv[5:]
rec = {"script": "scripts/gpu_session.sh", "host": platform.node(), "torch": torch.__version__,
       "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu",
       "seconds": round(time.time() - start), "kit": json.loads((kit / "manifest.json").read_text()), "steps": []}
for s in steps:
    name, epochs, secs, rc = s.split(":")
    log = tmp / f"log_{name}.jsonl"
    rec["steps"].append({"step": name, "epochs": int(epochs), "seconds": int(secs), "exit": int(rc),
                         "log": [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []})
Path(out).write_text(json.dumps(rec, indent=1) + "\n")
PY
}

step() {  # NAME FILE BUDGET MAX CMD...: time one epoch, train for the epochs that fit, copy FILE into $OUT
  local name=$1 file=$2 budget=$3 max=$4; shift 4
  local e t0 rc
  e=$(epochs_for "$name" "$budget" "$max" "$@")
  if [ "$e" = 0 ]; then
    echo "== $name: the timing epoch failed, step skipped"; STEPS+=("$name:0:0:1"); FAILED=$((FAILED + 1))
    write_record; return 1
  fi
  echo "== $name: $e epochs (budget ${budget} s) at $(( $(date +%s) - START )) s"
  t0=$(date +%s)
  "$@" --epochs "$e" --out "$T/$name.pt"; rc=$?
  STEPS+=("$name:$e:$(( $(date +%s) - t0 )):$rc")
  if [ $rc = 0 ]; then shrink "$T/$name.pt" "$OUT/$file"; cp "$T/$name.log.jsonl" "$T/log_$name.jsonl"
  else FAILED=$((FAILED + 1)); fi
  write_record
  return $rc
}

shrink() {  # SRC DST: a classifier as float16 without its auxiliary heads (what bundling keeps; under the 16 MB a
            # returned file may have), a MultiBox file as it is
  "$PY" - "$1" "$2" <<'PY'
import shutil, sys
from detector.classifier import CheckpointError, load_member, save_member
try:
    m = load_member(sys.argv[1])
except CheckpointError:  # not a region classifier: MultiBox
    shutil.copyfile(sys.argv[1], sys.argv[2])
else:
    save_member(sys.argv[2], m.model.float(), m.spec, m.classes, train=m.train, half=True, drop_aux=True)
PY
}

# 1. distillation, going on from the CPU student (function matching, the recipe's settings)
STUDENT="$KIT/student.pt"
step distill student.pt "$BUDGET_DISTILL" 300 detect train distill --photos "$KIT/photos/train" "${DET[@]}" \
    --gt "$KIT/det/openimages.json" --val-photos "$KIT/photos/val_inet" --val-photos "$KIT/photos/val_nette" \
    --teacher "$KIT/teacher.pt" --init "$KIT/student.pt" --arch paper-bn --width 0.5 --input-size 112 \
    --batch-size 128 --lr 2e-3 --val-every 1000 --workers "$WORKERS" --device "$DEVICE" \
  && STUDENT="$T/distill.pt"
# 2. MultiBox from the student (exhaustive sets only)
step multibox multibox.pt "$BUDGET_MB" 60 detect train multibox "${DET[@]}" --init "$STUDENT" --input-size 160 \
    --width 0.5 --batch-size 16 --lr 0.02 --device "$DEVICE"
# 3. the crops-mode member from the student, every training image
MEMBER0=""
step crops member0.pt "$BUDGET_CROPS" 60 detect train classifier "${DET[@]}" "${PARTIAL[@]}" --init "$STUDENT" \
    --arch paper-bn --input-size 112 --width 0.5 --schedule cosine --batch-size 128 --lr 0.01 --bbox-reg \
    --bg-iou-low 0 --workers "$WORKERS" --val-every 0 --device "$DEVICE" && MEMBER0="$T/crops.pt"
# 4. three fast-mode members from it (seeds 0, 1, 2)
if [ -n "$MEMBER0" ]; then
  for seed in 0 1 2; do
    step "fast$seed" "member$((seed + 1)).pt" "$BUDGET_FAST" 40 detect train classifier "${DET[@]}" "${PARTIAL[@]}" \
        --init "$MEMBER0" --seed "$seed" --arch paper-bn --input-size 112 --width 0.5 --mode fast \
        --fast-short-side 224 --fast-max-side 400 --schedule cosine --batch-size 128 --lr 0.01 --bbox-reg \
        --bg-iou-low 0 --workers "$WORKERS" --val-every 0 --device "$DEVICE"
  done
fi

write_record
echo "== done in $(( $(date +%s) - START )) s, $FAILED step(s) failed; $(ls "$OUT" | tr '\n' ' ')"
[ "$FAILED" = 0 ]
