"""Rebuild the bundled samples from ../shared/data (see samples/README.md).

    python samples/make_samples.py [--data ../shared/data]

Each chosen image is resized so that its longer side is 400 px (JPEG, quality 85) and its ground truth is scaled
with it; ``annotations.json`` is COCO instances JSON with ILSVRC det_ids as category ids, written by the project's
own readers and :func:`detector.data.coco.dataset_to_coco`.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from detector.data import Dataset, read_dataset
from detector.data.coco import dataset_to_coco
from detector.data.io import atomic_write_json

CHOSEN = [  # (dataset folder, image file name)
    ("pennfudan", "FudanPed00001.png"),
    ("pennfudan", "PennPed00010.png"),
    ("pennfudan", "FudanPed00066.png"),
    ("coco128", "000000000086.jpg"),
]
LONG_SIDE = 400


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    records, classes = [], {}
    for image_id, (folder, name) in enumerate(CHOSEN, start=1):
        ds = read_dataset(args.data / folder)
        im = next(r for r in ds.images if r.file_name == name)
        scale = LONG_SIDE / max(im.width, im.height)
        w, h = round(im.width * scale), round(im.height * scale)
        out_name = Path(name).stem + ".jpg"
        with Image.open(im.path) as img:
            img.convert("RGB").resize((w, h), Image.BILINEAR).save(args.out / "images" / out_name, quality=85)
        labels = []
        for lbl in im.labels:
            cat = ds.classes[int(lbl)]
            classes.setdefault(cat.key, (len(classes), cat))
            labels.append(classes[cat.key][0])
        records.append(dataclasses.replace(im, image_id=image_id, file_name=out_name, width=w, height=h,
                                           boxes=im.boxes * scale, labels=np.asarray(labels, dtype=np.int64),
                                           path=None))
    cats = tuple(c for _, c in sorted(classes.values(), key=lambda v: v[0]))
    ds = Dataset("coco", args.out, cats, tuple(records))
    atomic_write_json(args.out / "annotations.json", dataset_to_coco(ds))
    print(f"wrote {len(records)} images to {args.out / 'images'} and {args.out / 'annotations.json'}")


if __name__ == "__main__":
    main()
