"""The train/validation split of the real data in ../shared/data used for the bundled models.

    python scripts/default_split.py --data ../shared/data --out work/split

writes ``<out>/train/<dataset>.json`` and ``<out>/val/<dataset>.json`` (COCO instances JSON, absolute image paths,
classes as the readers map them), ``<dataset>.txt`` lists of their image files (for ``detect run``), and ``<out>/split.json`` (the validation file names). An image is in validation
when the first byte of sha1(file name) is below 51 (about 20 %), or when it is one of the bundled samples
(samples/README.md), so that the quickstart shows held-out images. Deterministic.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
from pathlib import Path

from detector.data import Dataset, read_dataset
from detector.data.coco import dataset_to_coco
from detector.data.io import atomic_write_json

DATASETS = {  # name -> folder or file(s) under ../shared/data (several files: one dataset, same classes)
    "pennfudan": ["pennfudan"],
    "voc2012": ["voc2012_subset"],
    "coco128": ["coco128"],
    "ilsvrc227": ["ilsvrc2014_det/val2_images_227/annotations_227.json"],
    "coco_mini": ["coco_mini/annotations/instances_train2017.json", "coco_mini/annotations/instances_val2017.json"],
    # labels not exhaustive (people without boxes exist): train with --gt-partial, never as background
    "openimages": ["openimages_5class/annotations/instances_val2017.json",
                   "openimages_5class/annotations/instances_test2017.json"],
}
SAMPLES = {"FudanPed00001.png", "PennPed00010.png", "FudanPed00066.png", "000000000086.jpg"}


def is_val(file_name: str) -> bool:
    return Path(file_name).name in SAMPLES or hashlib.sha1(Path(file_name).name.encode()).digest()[0] < 51


def subset(ds: Dataset, keep) -> Dataset:
    images = tuple(dataclasses.replace(im, file_name=str(im.path)) for im in ds.images if keep(im))
    return dataclasses.replace(ds, images=images)


def read_all(paths: list[Path]) -> Dataset:
    """One dataset from several files with the same class list (image ids renumbered 1..)."""
    parts = [read_dataset(p) for p in paths]
    for p, ds in zip(paths[1:], parts[1:]):
        if [c.key for c in ds.classes] != [c.key for c in parts[0].classes]:
            raise SystemExit(f"{p}: its classes differ from {paths[0]}'s")
    images = [im for ds in parts for im in ds.images]
    images = tuple(dataclasses.replace(im, image_id=i) for i, im in enumerate(images, start=1))
    return dataclasses.replace(parts[0], images=images)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path("work/split"))
    args = ap.parse_args()
    record = {}
    for name, rel in DATASETS.items():
        ds = read_all([args.data / r for r in rel])
        missing = [im.file_name for im in ds.images if im.path is None]
        if missing:
            raise SystemExit(f"{name}: {len(missing)} images without files, e.g. {missing[0]}")
        val = subset(ds, lambda im: is_val(im.file_name))
        train = subset(ds, lambda im: not is_val(im.file_name))
        for part, d in (("train", train), ("val", val)):
            atomic_write_json(args.out / part / f"{name}.json", dataset_to_coco(d), indent=None)
            (args.out / part / f"{name}.txt").write_text("".join(f"{im.path}\n" for im in d.images))
        record[name] = {"train_images": len(train), "train_boxes": train.num_boxes, "val_images": len(val),
                        "val_boxes": val.num_boxes, "val": sorted(Path(im.file_name).name for im in val.images)}
        print(f"{name:10s} train {len(train):4d} images {train.num_boxes:5d} boxes | val {len(val):3d} images "
              f"{val.num_boxes:4d} boxes")
    atomic_write_json(args.out / "split.json", record)


if __name__ == "__main__":
    main()
