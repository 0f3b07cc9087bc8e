"""Export of the in-memory dataset form to a COCO instances dict (the lingua franca for pycocotools)."""

from __future__ import annotations

from .boxes import box_area, xyxy_to_xywh
from .dataset import Dataset

__all__ = ["dataset_to_coco"]


def dataset_to_coco(ds: Dataset) -> dict:
    """``Dataset`` → COCO instances dict. Category ids are ILSVRC det_ids where the class has one, else numbers
    after 200 in class order; each category also carries its ``wnid`` (``null`` for unmapped classes)."""
    cat_ids = []
    next_id = 201
    for c in ds.classes:
        if c.det_id is not None:
            cat_ids.append(c.det_id)
        else:
            cat_ids.append(next_id)
            next_id += 1
    categories = [{"id": cid, "name": c.name, "wnid": c.wnid} for cid, c in zip(cat_ids, ds.classes)]
    images, annotations = [], []
    ann_id = 1
    for im in ds.images:
        images.append({"id": im.image_id, "file_name": im.file_name, "width": im.width, "height": im.height})
        xywh = xyxy_to_xywh(im.boxes)
        areas = box_area(im.boxes)
        for k in range(len(im)):
            annotations.append({
                "id": ann_id,
                "image_id": im.image_id,
                "category_id": cat_ids[int(im.labels[k])],
                "bbox": [round(float(v), 3) for v in xywh[k]],
                "area": round(float(areas[k]), 3),
                "iscrowd": int(im.iscrowd[k]),
                "ignore": int(im.difficult[k]),
            })
            ann_id += 1
    return {"images": images, "annotations": annotations, "categories": categories}
