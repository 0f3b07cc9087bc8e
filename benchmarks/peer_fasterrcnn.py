"""Peer comparison: torchvision's Faster R-CNN (MobileNetV3-Large FPN) trained from scratch on the same split.

    python scripts/default_split.py --out work/split
    taskset -c 1 python benchmarks/peer_fasterrcnn.py --split work/split --minutes 45 --threads 1 --out work/peer
    detect eval --gt work/split/val/pennfudan.json --pred work/peer/boxes_pennfudan.json --model-classes-only

    # the pedestrian comparison: Penn-Fudan training images only, scored on the Penn-Fudan validation images
    python benchmarks/peer_fasterrcnn.py --split work/split --train pennfudan --val pennfudan --minutes 20 \
        --out work/peer_pennfudan

Standard torchvision detection recipe (references/detection): SGD lr 0.02 × batch/16 … here batch 2, lr 0.02 as the
Penn-Fudan tutorial figure in the issue, momentum 0.9, weight decay 1e-4, linear warm-up, horizontal flips; no
pre-trained weights at all (``weights=None, weights_backbone=None``). Trains for a wall-clock budget, then writes
``boxes_<dataset>.json`` (this project's boxes.json) for every validation set, with the same classes as our model
(ILSVRC classes present in the training split).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

from detector.data import read_dataset
from detector.data.images import load_image
from detector.data.io import atomic_write_json
from detector.data.boxes_json import detection_entries, document, image_entry
from detector.train import build_class_list


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", type=Path, default=Path("work/split"))
    ap.add_argument("--out", type=Path, default=Path("work/peer"))
    ap.add_argument("--minutes", type=float, default=45.0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", action="append", default=None, metavar="NAME",
                    help="train on <split>/train/NAME.json only (repeatable; default: every training set)")
    ap.add_argument("--val", action="append", default=None, metavar="NAME",
                    help="write detections for <split>/val/NAME.json only (repeatable; default: every set)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_sets = [read_dataset(p) for p in sorted((args.split / "train").glob("*.json"))
                  if args.train is None or p.stem in args.train]
    classes = build_class_list(train_sets, ilsvrc_only=True)
    index = {c.key: k + 1 for k, c in enumerate(classes)}
    samples = []
    for ds in train_sets:
        for im in ds.images:
            labels = np.array([index.get(ds.classes[int(lbl)].key, 0) for lbl in im.labels])
            keep = (labels > 0) & (im.boxes[:, 2] > im.boxes[:, 0] + 1) & (im.boxes[:, 3] > im.boxes[:, 1] + 1)
            samples.append((im.path, np.asarray(im.boxes[keep], np.float32), labels[keep]))
    model = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=len(classes) + 1)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=args.lr, momentum=0.9, weight_decay=1e-4)
    cache = {}

    def get(i):
        path, boxes, labels = samples[i]
        if path not in cache:
            cache[path] = torch.from_numpy(load_image(path)).permute(2, 0, 1).float() / 255.0
        img, b = cache[path], torch.from_numpy(boxes.copy())
        if rng.random() < 0.5:  # horizontal flip
            w = img.shape[-1]
            img = img.flip(-1)
            b = torch.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], dim=1)
        return img, {"boxes": b.reshape(-1, 4), "labels": torch.from_numpy(labels).long()}

    budget = args.minutes * 60
    t0 = time.perf_counter()
    it, epoch, log = 0, 0, []
    model.train()
    while time.perf_counter() - t0 < budget:
        order = rng.permutation(len(samples))
        losses = []
        for s in range(0, len(order), args.batch_size):
            if time.perf_counter() - t0 >= budget:
                break
            batch = [get(int(i)) for i in order[s : s + args.batch_size]]
            lr = args.lr * min(1.0, 0.001 + it / 500)  # torchvision references: linear warm-up
            for g in opt.param_groups:
                g["lr"] = lr
            loss_dict = model([b[0] for b in batch], [b[1] for b in batch])
            loss = sum(loss_dict.values())
            if not torch.isfinite(loss):
                raise FloatingPointError("loss is not finite")
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
            it += 1
        epoch += 1
        log.append({"epoch": epoch, "iterations": it, "loss": float(np.mean(losses)) if losses else None,
                    "minutes": (time.perf_counter() - t0) / 60})
        print(json.dumps(log[-1]), flush=True)
    train_minutes = (time.perf_counter() - t0) / 60
    args.out.mkdir(parents=True, exist_ok=True)
    model.eval()
    infer_s = []
    for gt_path in sorted((args.split / "val").glob("*.json")):
        if args.val is not None and gt_path.stem not in args.val:
            continue
        ds = read_dataset(gt_path)
        images, dets = [], []
        for k, im in enumerate(ds.images, start=1):
            arr = load_image(im.path)
            t = time.perf_counter()
            with torch.inference_mode():
                out = model([torch.from_numpy(arr).permute(2, 0, 1).float() / 255.0])[0]
            infer_s.append(time.perf_counter() - t)
            images.append(image_entry(k, Path(im.path).name, arr.shape[1], arr.shape[0]))
            dets += detection_entries(k, out["boxes"].numpy(), out["scores"].numpy(), out["labels"].numpy(), classes)
        doc = document({"name": "fasterrcnn_mobilenet_v3_large_fpn (from scratch)", "classes": len(classes),
                        "members": 1}, images, classes, dets, [])
        atomic_write_json(args.out / f"boxes_{gt_path.stem}.json", doc, indent=None)
    summary = {"train_minutes": train_minutes, "iterations": it, "epochs": epoch, "threads": torch.get_num_threads(),
               "seconds_per_val_image": float(np.mean(infer_s)), "torchvision": torchvision.__version__, "log": log}
    atomic_write_json(args.out / "summary.json", summary)
    print(json.dumps({k: v for k, v in summary.items() if k != "log"}))


if __name__ == "__main__":
    main()
