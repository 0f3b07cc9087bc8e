"""Per-stage timing of the detection pipeline on real images, beside torchvision's Faster R-CNN R50-FPN.

    python benchmarks/bench_pipeline.py --images work/split/val/pennfudan.txt --limit 5 \
        [--model detector/models/default] [--multibox proposals/models/multibox.pt]

Stages per image: selective search (fast, scale 2, one process, no cache), MultiBox, warping (roi_align of all
regions), the CNN (per member), NMS; then end to end (proposals + warping + CNN + NMS) for 1 and 3 members, and
``fasterrcnn_resnet50_fpn`` with random weights on the same images in the same run. Members beyond the given model
are copies with other random weights (same architecture, so the same cost). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torchvision

from detector.classifier import Member, build_classifier, load_ensemble
from detector.data.images import list_images, load_image
from detector.pipeline import Detector, PostprocessConfig, postprocess
from detector.regions import normalize_image, warp_regions
from proposals.selective_search import SelectiveSearchConfig, selective_search


def _t(fn, *a, **k):
    t = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, required=True, help="folder, image or list file")
    ap.add_argument("--limit", type=int, default=5)
    ap.add_argument("--model", type=Path, default=Path("detector/models/default"))
    ap.add_argument("--multibox", type=Path, default=None)
    ap.add_argument("--max-proposals", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    paths = list_images(args.images)[: args.limit]
    images = [load_image(p) for p in paths]
    base = load_ensemble([args.model])[0]
    members = [base]
    for seed in (1, 2):
        torch.manual_seed(seed)
        members.append(Member(build_classifier(base.spec).eval(), base.spec, base.classes, {}))
    mb = None
    if args.multibox is not None:
        from proposals.multibox import load_multibox

        mb = load_multibox(args.multibox)[0]
    ss_cfg = SelectiveSearchConfig(scale=2.0)
    rows = {k: [] for k in ("ss", "multibox", "warp", "cnn", "nms", "e2e1", "e2e3", "frcnn", "regions")}
    frcnn = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
    for img in images:
        boxes, s = _t(selective_search, img, ss_cfg)
        boxes = boxes[: args.max_proposals]
        rows["ss"].append(s)
        rows["regions"].append(len(boxes))
        if mb is not None:
            _, s = _t(mb.propose, img, 200)
            rows["multibox"].append(s)
        b = torch.from_numpy(boxes)
        with torch.inference_mode():
            norm = normalize_image(img, base.spec.mean, base.spec.std)
            warp_s = cnn_s = 0.0
            probs = []
            for i in range(0, len(b), args.batch_size):
                reg, s = _t(warp_regions, norm, b[i : i + args.batch_size], base.spec.warp)
                warp_s += s
                logits, s = _t(base.model, reg)
                cnn_s += s
                probs.append(torch.softmax(logits, 1))
            rows["warp"].append(warp_s)
            rows["cnn"].append(cnn_s)
            _, s = _t(postprocess, b, torch.cat(probs), img.shape[:2], PostprocessConfig())
            rows["nms"].append(s)
        for n, key in ((1, "e2e1"), (3, "e2e3")):
            det = Detector(lambda im: selective_search(im, ss_cfg), members[:n], batch_size=args.batch_size,
                           max_proposals=args.max_proposals)
            _, s = _t(det.detect, img)
            rows[key].append(s)
        with torch.inference_mode():
            _, s = _t(frcnn, [torch.from_numpy(img).permute(2, 0, 1).float() / 255.0])
        rows["frcnn"].append(s)

    mean = {k: float(np.mean(v)) if v else float("nan") for k, v in rows.items()}
    per_region_ms = 1000 * mean["cnn"] / max(mean["regions"], 1)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}; {len(images)} images from {args.images}; model {args.model} "
          f"({base.spec.arch}, {base.spec.input_size}px, width {base.spec.width}); "
          f"{mean['regions']:.0f} regions/image on average")
    print()
    print("| stage | seconds / image |")
    print("|---|---|")
    print(f"| selective search (fast, scale 2, 1 process) | {mean['ss']:.2f} |")
    if mb is not None:
        print(f"| MultiBox (top 200) | {mean['multibox']:.2f} |")
    print(f"| warping (roi_align, all regions) | {mean['warp']:.2f} |")
    print(f"| CNN, 1 member ({per_region_ms:.1f} ms / region) | {mean['cnn']:.2f} |")
    print(f"| NMS + threshold | {mean['nms']:.3f} |")
    print(f"| **end to end, 1 member** | **{mean['e2e1']:.2f}** |")
    print(f"| **end to end, 3 members** | **{mean['e2e3']:.2f}** |")
    print(f"| torchvision fasterrcnn_resnet50_fpn (random weights) | {mean['frcnn']:.2f} |")
    print()
    print(f"ratio end-to-end 1 member / Faster R-CNN: {mean['e2e1'] / mean['frcnn']:.2f}; "
          f"3 members / Faster R-CNN: {mean['e2e3'] / mean['frcnn']:.2f}")


if __name__ == "__main__":
    main()
