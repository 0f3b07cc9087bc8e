"""How much of the teacher a distilled GoogLeNet holds, per set of held-out photos (the model card's table).

    python scripts/evaluate_distilled.py --model work/distill/student.pt \\
        --set imagenet=work/distill/photos_val_inet.txt --set imagenette=../shared/data/imagenette_subset/val

For each set: top-1 agreement of the model with the teacher (EfficientNet-Lite0), top-1 accuracy against the labels
(``<wnid>/`` folders or ``<wnid>_…`` file names) over the 1,000 classes and among the classes present in the set
(10-way on Imagenette), for the model and the teacher, on the ImageNet centre view (short side to 256/224 of 224,
the 224 centre; the model sees it resized to its input size). ``--model`` may be repeated (e.g. a from-scratch
trunk beside the distilled one).
"""

from __future__ import annotations

import argparse
import json

import torch

from detector.classifier import load_member
from detector.data.images import list_images
from detector.distill import (
    DistillConfig,
    DistillViews,
    ImageStore,
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
    ap.add_argument("--set", action="append", required=True, metavar="NAME=PATH",
                    help="photos: a folder, an image or a .txt list")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    teacher = TeacherRunner(load_teacher())
    members = [load_member(m) for m in args.model]
    report = {}
    for entry in args.set:
        name, path = entry.split("=", 1)
        store = ImageStore(photo_items(list_images(path)), DistillConfig.max_side)
        views_ds = DistillViews(store, DistillConfig(), 0, 224, train=False)
        views = torch.stack([views_ds[i] for i in range(len(views_ds))])
        labels = torch.tensor([it.label for it in store.items])
        t = teacher_logits_of(teacher, views)
        row = {"photos": len(views), "teacher": label_metrics(t, labels)}
        for path_, m in zip(args.model, members):
            if m.spec.num_classes != 1000:
                raise SystemExit(f"{path_}: not a model with 1,000 ImageNet outputs")
            r = evaluate_student(m.model, m.spec, views, t, labels, "cpu")
            row[path_] = {k: v for k, v in r.items() if not k.startswith("teacher_")}
        report[name] = row
        print(f"{name} ({len(views)} photos): teacher " + ", ".join(f"{k} {v:.3f}" for k, v in row["teacher"].items()))
        for path_ in args.model:
            print(f"  {path_}: " + ", ".join(f"{k} {v:.3f}" for k, v in row[path_].items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
