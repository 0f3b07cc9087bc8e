"""How much of the teacher a distilled GoogLeNet holds, per set of held-out photos (the model card's table).

    python scripts/evaluate_distilled.py --model work/distill/student.pt \\
        --set imagenet=work/distill/photos_val_inet.txt --set imagenette=../shared/data/imagenette_subset/val

For each set: top-1 agreement of the model with the teacher (EfficientNet-Lite0), top-1 accuracy against the labels
(``<wnid>/`` folders or ``<wnid>_…`` file names) over the 1,000 classes and among the classes present in the set
(10-way on Imagenette), for the model and the teacher, on the ImageNet centre view (short side to 256/224 of 224,
the 224 centre; the model sees it resized to its input size). ``--model`` may be repeated (e.g. a from-scratch
trunk beside the distilled one).

``--gt NAME=FILE`` (annotated images, e.g. ``work/split/val/coco_mini.json``): each object of an ILSVRC DET class,
grown by the R-CNN context of the model's input size and warped to a square as the detector warps regions, is
classified among the 200 DET classes (the 1,000 outputs summed onto them, background left out): ``det_top1`` against
the label, for the model and the teacher, and ``det_agreement`` (same DET class as the teacher).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

from detector.classifier import CheckpointError, load_member
from detector.data import DatasetError
from detector.data.images import ImageError, list_images
from detector.distill import (
    DistillConfig,
    DistillViews,
    ImageStore,
    TeacherError,
    TeacherRunner,
    evaluate_student,
    label_metrics,
    load_teacher,
    photo_items,
    teacher_logits_of,
)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, help="model file with 1,000 ImageNet outputs")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=PATH",
                    help="photos: a folder, an image or a .txt list")
    ap.add_argument("--gt", action="append", default=[], metavar="NAME=FILE",
                    help="annotated images whose objects are classified among the DET classes")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # trial 57: a user's mistake (NAME=PATH without "=", a missing path, a file that is no model, a model without
    # the 1,000 outputs, photos none of which can be read) was a traceback, or came after the teacher's minutes
    sets, gts = _named(args.set, "--set"), _named(args.gt, "--gt")
    members = []
    for m in args.model:
        try:
            members.append(load_member(m))
        except CheckpointError as e:
            raise SystemExit(f"error: {e}") from None
        if members[-1].spec.num_classes != 1000:
            raise SystemExit(f"error: {m}: not a model with 1,000 ImageNet outputs")
    photos = {}
    for name, path in sets:
        try:
            found = list_images(path)
        except ImageError as e:
            raise SystemExit(f"error: --set {name}={path}: {e}") from None
        photos[name] = [f for f in found if os.path.isfile(f)]
        if len(photos[name]) < len(found):
            print(f"warning: --set {name}={path}: {len(found) - len(photos[name])} listed path(s) name no image file; "
                  "left out", file=sys.stderr)
    try:
        teacher = TeacherRunner(load_teacher())
    except TeacherError as e:
        raise SystemExit(f"error: {e}") from None
    report = {}
    for name, path in sets:
        store = ImageStore(photo_items(photos[name]), DistillConfig.max_side)
        for err in store.errors:
            print(f"warning: {err} (left out)", file=sys.stderr)
        if not store.items:
            raise SystemExit(f"error: --set {name}={path}: no photo could be read")
        views_ds = DistillViews(store, DistillConfig(), 0, 224, train=False)
        views = torch.stack([views_ds[i] for i in range(len(views_ds))])
        labels = torch.tensor([it.label for it in store.items])
        t = teacher_logits_of(teacher, views)
        row = {"photos": len(views), "teacher": label_metrics(t, labels)}
        for path_, m in zip(args.model, members):
            r = evaluate_student(m.model, m.spec, views, t, labels, "cpu")
            row[path_] = {k: v for k, v in r.items() if not k.startswith("teacher_")}
        report[name] = row
        print(f"{name} ({len(views)} photos): teacher " + ", ".join(f"{k} {v:.3f}" for k, v in row["teacher"].items()))
        for path_ in args.model:
            print(f"  {path_}: " + ", ".join(f"{k} {v:.3f}" for k, v in row[path_].items()))
    for name, path in gts:
        try:
            report[name] = _regions(name, path, teacher, members, args.model)
        except (DatasetError, ImageError) as e:
            raise SystemExit(f"error: --gt {name}={path}: {e}") from None
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


def _named(entries, flag) -> list[tuple[str, str]]:
    """``NAME=PATH`` entries of ``flag`` as (name, path) pairs; one without a name, a path or the ``=`` is an error."""
    out = []
    for entry in entries:
        name, sep, path = entry.partition("=")
        if not (sep and name and path):
            raise SystemExit(f"error: {flag} {entry!r}: give NAME=PATH (e.g. {flag} imagenette=photos/)")
        out.append((name, path))
    return out


def _regions(name, path, teacher, members, model_paths) -> dict:
    import numpy as np

    from detector.data import read_dataset
    from detector.data.images import load_image
    from detector.data.imagenet import leaf_matrix
    from detector.data.vocab import ilsvrc_categories
    from detector.distill import TEACHER_SIZE, _region_params, _warp

    ds = read_dataset(path)
    cats = ilsvrc_categories()
    col = {c.det_id: k for k, c in enumerate(cats)}
    matrix = torch.from_numpy(leaf_matrix(cats))[:, 1:]  # 1000 x 200: DET classes only
    size = members[0].spec.input_size
    config = DistillConfig(region_jitter=0.0)
    views, labels = [], []
    for im in ds.images:
        if im.path is None:
            continue
        image = load_image(im.path)
        h, w = image.shape[:2]
        t = torch.from_numpy(image).permute(2, 0, 1).float() / 255.0
        for b, lbl, crowd in zip(im.boxes, im.labels, im.iscrowd):
            det = ds.classes[int(lbl)].det_id
            if crowd or det is None or b[2] <= b[0] or b[3] <= b[1]:
                continue
            box = _region_params(np.random.default_rng(0), tuple(float(v) for v in b),
                                 (w / im.width, h / im.height), h, w, config, size)
            views.append(_warp(t, box, TEACHER_SIZE))
            labels.append(col[det])
    if not views:
        raise SystemExit(f"error: --gt {name}={path}: no object of an ILSVRC DET class to classify")
    views, labels = torch.stack(views), torch.tensor(labels)
    t_logits = teacher_logits_of(teacher, views)

    def det_pred(logits):
        return (torch.softmax(logits.float(), 1) @ matrix).argmax(1)

    t_pred = det_pred(t_logits)
    row = {"objects": len(labels), "teacher": {"det_top1": float((t_pred == labels).float().mean())}}
    print(f"{name} ({len(labels)} objects): teacher det_top1 {row['teacher']['det_top1']:.3f}")
    for path_, m in zip(model_paths, members):
        from detector.distill import student_input

        with torch.no_grad():
            m.model.eval()
            s_logits = torch.cat([m.model(student_input(views[i : i + 64], m.spec)) for i in range(0, len(views), 64)])
        s_pred = det_pred(s_logits)
        row[path_] = {"det_top1": float((s_pred == labels).float().mean()),
                      "det_agreement": float((s_pred == t_pred).float().mean())}
        print(f"  {path_}: " + ", ".join(f"{k} {v:.3f}" for k, v in row[path_].items()))
    return row


if __name__ == "__main__":
    main()
