"""Make synthetic predictions from ground truth by jittering its boxes (for evaluator checks and timing).

    python benchmarks/make_jittered_predictions.py --gt ../shared/data/ilsvrc2014_det/val2_xml \
        --image-list ../shared/data/ilsvrc2014_det/lists/ilsvrc13_val2.txt --out /tmp/val2_jitter.txt
    time detect eval --gt ../shared/data/ilsvrc2014_det/val2_xml --pred /tmp/val2_jitter.txt \
        --image-list ../shared/data/ilsvrc2014_det/lists/ilsvrc13_val2.txt

(No --blacklist: the devkit's ILSVRC2014_det_validation_blacklist.txt numbers val.txt, names none of val2's
images, and is refused with the val2 list — README, `detect eval`.)

Per ground-truth box: one detection with its corners moved by Gaussian noise (σ = ``--jitter`` × box size) and a
score that falls with the noise; plus ``--false-per-image`` random boxes of random classes. The output is an ILSVRC
submission text file (with ``--image-list``) or a COCO results list (``.json``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from detector.data import read_dataset, xyxy_to_ilsvrc, xyxy_to_xywh
from detector.data.io import atomic_write_text


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--image-list", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--jitter", type=float, default=0.1)
    ap.add_argument("--false-per-image", type=float, default=1.3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    gt = read_dataset(args.gt, image_list=args.image_list)
    n_classes = sum(c.det_id is not None for c in gt.classes)
    rows = []  # image_id, det_id, score, x1, y1, x2, y2
    for im in gt.images:
        b = im.boxes.astype(np.float64)
        wh = np.repeat(b[:, 2:] - b[:, :2], 2, axis=0).reshape(-1, 4)
        noise = rng.normal(0.0, args.jitter, size=b.shape) * wh
        jb = b + noise
        jb[:, 2:] = np.maximum(jb[:, 2:], jb[:, :2] + 1)
        score = np.clip(1.0 - np.abs(noise / np.maximum(wh, 1)).mean(axis=1) * 3 + rng.normal(0, 0.1, len(b)), 0, 1)
        for k in range(len(b)):
            rows.append((im.image_id, gt.classes[int(im.labels[k])].det_id, score[k], *jb[k]))
        for _ in range(rng.poisson(args.false_per_image)):
            x1, y1 = rng.uniform(0, im.width * 0.8), rng.uniform(0, im.height * 0.8)
            w, h = rng.uniform(10, im.width - x1), rng.uniform(10, im.height - y1)
            rows.append((im.image_id, int(rng.integers(1, n_classes + 1)), rng.uniform(0, 0.8), x1, y1, x1 + w, y1 + h))
    if args.out.suffix == ".json":
        boxes = xyxy_to_xywh(np.asarray([r[3:] for r in rows]))
        res = [{"image_id": int(r[0]), "category_id": int(r[1]), "bbox": [round(float(v), 2) for v in bb],
                "score": round(float(r[2]), 5)} for r, bb in zip(rows, boxes)]
        atomic_write_text(args.out, json.dumps(res))
    else:
        boxes = xyxy_to_ilsvrc(np.asarray([r[3:] for r in rows]))
        atomic_write_text(args.out, "".join(f"{int(r[0])} {int(r[1])} {r[2]:.5f} {bb[0]:.1f} {bb[1]:.1f} {bb[2]:.1f} "
                                            f"{bb[3]:.1f}\n" for r, bb in zip(rows, boxes)))
    print(f"wrote {len(rows)} predictions for {len(gt)} images to {args.out}")


if __name__ == "__main__":
    main()
