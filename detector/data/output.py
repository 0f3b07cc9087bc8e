"""The ``boxes.json`` output form (DESIGN.md) and its conversions to a COCO results list and ILSVRC text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .boxes import xyxy_to_ilsvrc, xyxy_to_xywh
from .vocab import Category

__all__ = ["boxes_json", "image_entry", "detection_entries", "to_coco_results", "to_ilsvrc_text", "to_image_list",
           "image_list_path", "category_id"]


def category_id(cat: Category, index: int) -> int:
    """``category_id`` of a class in outputs: its ILSVRC det_id, else 1000 + its position (never a det_id)."""
    return cat.det_id if cat.det_id is not None else 1000 + index


def image_entry(image_id: int, file_name: str, width: int, height: int) -> dict:
    return {"id": int(image_id), "file_name": str(file_name), "width": int(width), "height": int(height)}


def detection_entries(image_id: int, boxes, scores, labels, classes) -> list[dict]:
    """Detections of one image → entries; ``labels`` are 1..C (index + 1 into ``classes``)."""
    xywh = xyxy_to_xywh(boxes)
    out = []
    for b, s, lbl in zip(xywh, np.asarray(scores), np.asarray(labels)):
        cat = classes[int(lbl) - 1]
        out.append({"image_id": int(image_id), "category_id": category_id(cat, int(lbl) - 1),
                    "bbox": [round(float(v), 2) for v in b], "score": round(float(s), 5)})
    return out


def boxes_json(model: dict, images: list[dict], classes, detections: list[dict], errors: list[dict]) -> dict:
    return {
        "model": model,
        "images": images,
        "categories": [{"id": category_id(c, i), "wnid": c.wnid, "name": c.name} for i, c in enumerate(classes)],
        "detections": detections,
        "errors": errors,
    }


def to_coco_results(doc: dict) -> list[dict]:
    """``boxes.json`` → the COCO results list (``image_id``, ``category_id``, ``bbox``, ``score``), each result also
    with its image's ``file_name`` and its class's ``category_name`` (and ``wnid`` where it has one).

    ``image_id`` is this run's number of the image (its input position), which no ground truth knows: the extra
    keys, which pycocotools ignores (``COCO.loadRes`` keeps them untouched), let ``detect eval`` match each result
    to its image by path and to its class by name, as it does ``boxes.json``, so both files give the same numbers."""
    names = {im["id"]: im["file_name"] for im in doc["images"]}
    cats = {c["id"]: c for c in doc["categories"]}
    out = []
    for d in doc["detections"]:
        r = {k: d[k] for k in ("image_id", "category_id", "bbox", "score")}
        r["file_name"] = names[d["image_id"]]
        cat = cats.get(d["category_id"])
        if cat is not None:
            r["category_name"] = cat["name"]
            if cat.get("wnid"):
                r["wnid"] = cat["wnid"]
        out.append(r)
    return out


def to_image_list(doc: dict) -> str:
    """``boxes.json`` → the evaluation list of its images, ``<file_name> <id>`` per line (the ILSVRC ``name index``
    form, e.g. ``ilsvrc13_val2.txt``): what numbers the images of :func:`to_ilsvrc_text`."""
    return "".join(f"{im['file_name']} {im['id']}\n" for im in doc["images"])


def image_list_path(path) -> Path:
    """Where ILSVRC text ``sub.txt`` written by ``detect run --format ilsvrc`` has the evaluation list numbering
    its images (:func:`to_image_list`): ``sub.images.txt``."""
    return Path(path).with_suffix(".images.txt")


def to_ilsvrc_text(doc: dict) -> str:
    """``boxes.json`` → ILSVRC submission lines ``<image_id> <det_id> <score> <xmin> <ymin> <xmax> <ymax>``
    (0-based inclusive pixels). The image index is the image's ``id`` in ``doc``: pair the text with
    :func:`to_image_list` to evaluate it. Classes without a det_id cannot be written in this format and are left
    out."""
    lines = []
    for d in doc["detections"]:
        if d["category_id"] > 200:
            continue
        x, y, w, h = d["bbox"]
        b = xyxy_to_ilsvrc([x, y, x + w, y + h])[0]
        lines.append(f"{d['image_id']} {d['category_id']} {d['score']:.5f} {b[0]:.2f} {b[1]:.2f} {b[2]:.2f} "
                     f"{b[3]:.2f}\n")
    return "".join(lines)
