"""Export of the in-memory dataset form to a COCO instances dict (the lingua franca for pycocotools): the one
converter, for files (``samples/make_samples.py``, ``scripts/default_split.py``) and for the ``coco`` metric."""

from __future__ import annotations

from .boxes import box_area, xyxy_to_xywh
from .dataset import Dataset

__all__ = ["dataset_to_coco"]


def dataset_to_coco(ds: Dataset, *, decimals: int | None = 3, positional_ids: bool = False,
                    difficult_as_crowd: bool = False) -> dict:
    """``Dataset`` → COCO instances dict.

    Ids: by default the images' own ids, and category ids that are ILSVRC det_ids where the class has one, else
    numbers after 200 in class order; each category also carries its ``wnid`` (``null`` for unmapped classes).
    ``positional_ids``: image ids are positions + 1 and category ids class indices + 1 instead (unique whatever the
    source's ids are; the ``coco`` metric's choice). ``bbox`` and ``area`` (the box's, not the file's) are rounded
    to ``decimals`` (None: float64 as read, so a metric equals the reference tool's on the source file).
    ``difficult_as_crowd``: VOC ``difficult`` objects become crowd regions, pycocotools' only kind of ignored
    region; otherwise ``iscrowd`` is the source's and ``ignore`` marks ``difficult``."""
    if positional_ids:
        cat_ids = list(range(1, len(ds.classes) + 1))
    else:
        cat_ids, next_id = [], 201
        for c in ds.classes:
            cat_ids.append(c.det_id if c.det_id is not None else next_id)
            next_id += c.det_id is None

    def number(v) -> float:
        return float(v) if decimals is None else round(float(v), decimals)

    categories = [{"id": cid, "name": c.name, "wnid": c.wnid} for cid, c in zip(cat_ids, ds.classes)]
    images, annotations = [], []
    for i, im in enumerate(ds.images):
        image_id = i + 1 if positional_ids else im.image_id
        images.append({"id": image_id, "file_name": im.file_name, "width": im.width, "height": im.height})
        xywh = xyxy_to_xywh(im.boxes)
        areas = box_area(im.boxes)
        for k in range(len(im)):
            crowd = bool(im.iscrowd[k] or (difficult_as_crowd and im.difficult[k]))
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": cat_ids[int(im.labels[k])],
                "bbox": [number(v) for v in xywh[k]],
                "area": number(areas[k]),
                "iscrowd": int(crowd),
                "ignore": int(im.difficult[k]),
            })
    return {"images": images, "annotations": annotations, "categories": categories}
