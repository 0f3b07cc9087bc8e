"""Reading predictions and lining them up with ground truth.

Three formats, told apart by content:

- ``boxes_json``: this project's ``boxes.json`` (``{"images", "categories", "detections", "errors"}``, see
  DESIGN.md);
- ``coco_results``: a COCO results list ``[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}]``;
  ``category_id`` means the ground truth's own COCO category id where the ground truth is COCO JSON, else the
  ILSVRC det_id;
- ``ilsvrc_text``: the ILSVRC submission text, one ``<image_index> <det_id> <confidence> <xmin> <ymin> <xmax>
  <ymax>`` per line (0-based inclusive pixels), image indices as in the evaluation list.

Predictions are matched to ground-truth images by file name (stem) where the format gives one, else by id; and to
classes by :attr:`Category.key` (the ILSVRC wnid where both sides map onto the vocabulary, else the name).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detector.data import Dataset, ilsvrc_to_xyxy, read_image_list, xywh_to_xyxy
from detector.data.vocab import Category, ilsvrc_by_det_id, ilsvrc_by_wnid

__all__ = ["PredictionError", "Predictions", "AlignedPredictions", "read_predictions", "align_predictions",
           "read_blacklist", "PREDICTION_FORMATS"]

PREDICTION_FORMATS = ("boxes_json", "coco_results", "ilsvrc_text")


class PredictionError(ValueError):
    """A prediction file that cannot be used; the message names the file and the line or entry."""


@dataclass(frozen=True, eq=False)
class Predictions:
    """P predictions as read from a file, before they are lined up with ground truth."""

    format: str
    source: str
    image_names: tuple[str | None, ...]  # [P] image file stem, where the format gives one
    image_ids: np.ndarray  # int64 [P] image id (or evaluation-list index); -1 where unknown
    categories: tuple[Category, ...]  # the classes referred to
    labels: np.ndarray  # int64 [P] index into categories
    scores: np.ndarray  # float64 [P]
    boxes: np.ndarray  # float32 [P, 4] xyxy
    by_source_id: bool = False  # categories are raw COCO ids (``Category.source_id``) to resolve against the GT
    errors: tuple[dict, ...] = field(default=())  # images the detector could not read (boxes.json "errors")

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True, eq=False)
class AlignedPredictions:
    """Predictions expressed in the ground truth's terms: image and class indices of the ``Dataset``."""

    image_index: np.ndarray  # int64 [P] index into gt.images
    label: np.ndarray  # int64 [P] index into gt.classes
    scores: np.ndarray  # float64 [P]
    boxes: np.ndarray  # float32 [P, 4] xyxy
    unknown_images: tuple[str, ...] = ()  # images named by predictions but absent from the ground truth
    dropped_unknown_image: int = 0  # predictions left out for that reason
    dropped_other_class: dict[str, int] = field(default_factory=dict)  # class name -> predictions left out (class
    #                                                                      not among the ground truth's classes)
    known_classes: frozenset[int] = frozenset()  # GT class indices among the prediction file's categories

    def __len__(self) -> int:
        return len(self.scores)


def _finite(values, where: str) -> None:
    for v in values:
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise PredictionError(f"{where}: expected finite numbers, got {v!r}")


def _read_boxes_json(path: Path, data: dict) -> Predictions:
    for key in ("images", "categories", "detections"):
        if not isinstance(data.get(key), list):
            raise PredictionError(f"{path}: not a boxes.json file: expected a list under {key!r}")
    names = {}
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise PredictionError(f"{path}: images[{i}] lacks 'id' or 'file_name'")
        names[im["id"]] = Path(str(im["file_name"])).stem
    cats: dict[int, int] = {}
    categories: list[Category] = []
    for i, c in enumerate(data["categories"]):
        if not isinstance(c, dict) or "id" not in c or "name" not in c:
            raise PredictionError(f"{path}: categories[{i}] lacks 'id' or 'name'")
        wnid = c.get("wnid")
        vocab = ilsvrc_by_wnid().get(wnid) if wnid else None
        cats[c["id"]] = len(categories)
        categories.append(Category(str(c["name"]), wnid or None, vocab.det_id if vocab else None, source_id=c["id"]))
    n = len(data["detections"])
    image_names, image_ids = [], np.empty(n, dtype=np.int64)
    labels, scores, boxes = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.float64), np.empty((n, 4), np.float32)
    for i, d in enumerate(data["detections"]):
        where = f"{path}: detections[{i}]"
        if not isinstance(d, dict) or not {"image_id", "category_id", "bbox", "score"} <= d.keys():
            raise PredictionError(f"{where} lacks one of 'image_id', 'category_id', 'bbox', 'score'")
        if d["category_id"] not in cats:
            raise PredictionError(f"{where}: unknown category_id {d['category_id']!r} (not in 'categories')")
        if d["image_id"] not in names:
            raise PredictionError(f"{where}: unknown image_id {d['image_id']!r} (not in 'images')")
        bbox = d["bbox"]
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise PredictionError(f"{where}: bbox must be [x, y, w, h], got {bbox!r}")
        _finite([*bbox, d["score"]], where)
        image_names.append(names[d["image_id"]])
        image_ids[i] = d["image_id"]
        labels[i] = cats[d["category_id"]]
        scores[i] = d["score"]
        boxes[i] = xywh_to_xyxy(bbox)[0]
    errors = tuple(e for e in data.get("errors") or [] if isinstance(e, dict))
    return Predictions("boxes_json", str(path), tuple(image_names), image_ids, tuple(categories), labels, scores,
                       boxes, errors=errors)


def _read_coco_results(path: Path, data: list) -> Predictions:
    n = len(data)
    image_ids = np.empty(n, dtype=np.int64)
    labels, scores, boxes = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.float64), np.empty((n, 4), np.float32)
    cats: dict[int, int] = {}
    for i, d in enumerate(data):
        where = f"{path}: [{i}]"
        if not isinstance(d, dict) or not {"image_id", "category_id", "bbox", "score"} <= d.keys():
            raise PredictionError(f"{where} lacks one of 'image_id', 'category_id', 'bbox', 'score'")
        bbox = d["bbox"]
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise PredictionError(f"{where}: bbox must be [x, y, w, h], got {bbox!r}")
        _finite([*bbox, d["score"]], where)
        if not isinstance(d["category_id"], int):
            raise PredictionError(f"{where}: category_id must be an integer, got {d['category_id']!r}")
        if not isinstance(d["image_id"], int):
            raise PredictionError(f"{where}: image_id must be an integer, got {d['image_id']!r}")
        image_ids[i] = d["image_id"]
        labels[i] = cats.setdefault(d["category_id"], len(cats))
        scores[i] = d["score"]
        boxes[i] = xywh_to_xyxy(bbox)[0]
    categories = tuple(Category(f"category {cid}", source_id=cid) for cid in cats)
    return Predictions("coco_results", str(path), (None,) * n, image_ids, categories, labels, scores, boxes,
                       by_source_id=True)


def _read_ilsvrc_text(path: Path, text: str, image_list) -> Predictions:
    if image_list is None:
        raise PredictionError(f"{path}: an ILSVRC submission file numbers images by an evaluation list: "
                              "pass --image-list (e.g. ilsvrc13_val2.txt)")
    index_to_name = {idx: name for name, idx in read_image_list(image_list)}
    by_det = ilsvrc_by_det_id()
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 7:
            raise PredictionError(f"{path}:{n}: expected 7 fields '<image_index> <det_id> <confidence> <xmin> <ymin> "
                                  f"<xmax> <ymax>', got {len(parts)}: {line.strip()!r}")
        try:
            idx, det_id = int(parts[0]), int(parts[1])
            vals = [float(v) for v in parts[2:]]
        except ValueError:
            raise PredictionError(f"{path}:{n}: not numbers: {line.strip()!r}") from None
        if not all(math.isfinite(v) for v in vals):
            raise PredictionError(f"{path}:{n}: NaN or infinite number: {line.strip()!r}")
        if det_id not in by_det:
            raise PredictionError(f"{path}:{n}: unknown class id {det_id} (ILSVRC det_ids are 1..200)")
        if idx not in index_to_name:
            raise PredictionError(f"{path}:{n}: image index {idx} is not in {image_list}")
        rows.append((idx, det_id, *vals))
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
    det_ids = arr[:, 1].astype(np.int64)
    uniq = sorted(set(det_ids.tolist()))
    pos = {d: i for i, d in enumerate(uniq)}
    return Predictions(
        "ilsvrc_text", str(path),
        tuple(index_to_name[int(i)] for i in arr[:, 0]),
        arr[:, 0].astype(np.int64),
        tuple(by_det[d] for d in uniq),
        np.asarray([pos[d] for d in det_ids.tolist()], dtype=np.int64),
        arr[:, 2].copy(),
        ilsvrc_to_xyxy(arr[:, 3:7]),
    )


def read_predictions(path, *, image_list=None) -> Predictions:
    """Read a prediction file in any of :data:`PREDICTION_FORMATS` (told from its content)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PredictionError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PredictionError(f"{path}: cannot read: {e}") from None
    head = text.lstrip()[:1]
    if head in ("{", "["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise PredictionError(f"{path}:{e.lineno}: not valid JSON: {e.msg} (column {e.colno})") from None
        if isinstance(data, dict):
            return _read_boxes_json(path, data)
        return _read_coco_results(path, data)
    return _read_ilsvrc_text(path, text, image_list)


def align_predictions(preds: Predictions, gt: Dataset) -> AlignedPredictions:
    """Express ``preds`` in terms of ``gt``'s images and classes; report what cannot be matched.

    Raises :class:`PredictionError` for COCO results whose ``category_id`` is neither a ground-truth COCO category
    id nor an ILSVRC det_id."""
    by_stem = {im.stem: i for i, im in enumerate(gt.images)}
    by_id = {im.image_id: i for i, im in enumerate(gt.images)}
    class_by_key = {c.key: i for i, c in enumerate(gt.classes)}
    class_by_source = {c.source_id: i for i, c in enumerate(gt.classes) if c.source_id is not None}

    # class of each prediction category in the GT (-1: not a GT class)
    cat_to_gt = np.full(len(preds.categories), -1, dtype=np.int64)
    for j, cat in enumerate(preds.categories):
        if preds.by_source_id:
            if gt.format == "coco" and cat.source_id in class_by_source:
                cat_to_gt[j] = class_by_source[cat.source_id]
                continue
            vocab = ilsvrc_by_det_id().get(cat.source_id)
            if vocab is None:
                raise PredictionError(f"{preds.source}: unknown category_id {cat.source_id} (neither a category of "
                                      f"{gt.source} nor an ILSVRC det_id)")
            cat = vocab
        cat_to_gt[j] = class_by_key.get(cat.key, -1)

    n = len(preds)
    image_index = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        name = preds.image_names[i]
        if name is not None:
            image_index[i] = by_stem.get(name, -1)
        else:
            image_index[i] = by_id.get(int(preds.image_ids[i]), -1)
    label = cat_to_gt[preds.labels] if n else np.zeros(0, dtype=np.int64)

    no_image = image_index < 0
    other_class = (~no_image) & (label < 0)
    unknown = sorted({preds.image_names[i] or str(int(preds.image_ids[i])) for i in np.flatnonzero(no_image)})
    dropped_class = Counter(_category_name(preds, int(preds.labels[i])) for i in np.flatnonzero(other_class))
    keep = ~(no_image | other_class)
    known = frozenset(int(c) for c in cat_to_gt if c >= 0)
    return AlignedPredictions(
        image_index=image_index[keep],
        label=label[keep],
        scores=preds.scores[keep],
        boxes=preds.boxes[keep],
        unknown_images=tuple(unknown),
        dropped_unknown_image=int(no_image.sum()),
        dropped_other_class=dict(dropped_class),
        known_classes=known,
    )


def _category_name(preds: Predictions, j: int) -> str:
    cat = preds.categories[j]
    if preds.by_source_id and cat.source_id in ilsvrc_by_det_id():
        return ilsvrc_by_det_id()[cat.source_id].name
    return cat.name


def read_blacklist(path, gt: Dataset, *, image_list=None) -> set[tuple[int, int]]:
    """ILSVRC blacklist (``<image index> <wnid>`` lines) → ``{(image index in gt, class index in gt)}``.

    Image indices are those of ``image_list`` where given, else the ground truth's image ids. Pairs naming an image
    or class absent from the ground truth are skipped (they cannot affect the result)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise PredictionError(f"{path}: cannot read blacklist: {e.strerror or e}") from None
    if image_list is not None:
        by_stem = {im.stem: i for i, im in enumerate(gt.images)}
        index_to_image = {idx: by_stem[name] for name, idx in read_image_list(image_list) if name in by_stem}
    else:
        index_to_image = {im.image_id: i for i, im in enumerate(gt.images)}
    class_by_key = {c.key: i for i, c in enumerate(gt.classes)}
    out = set()
    for n, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise PredictionError(f"{path}:{n}: expected '<image index> <wnid>', got {line.strip()!r}")
        try:
            idx = int(parts[0])
        except ValueError:
            raise PredictionError(f"{path}:{n}: image index is not an integer: {parts[0]!r}") from None
        if idx in index_to_image and parts[1] in class_by_key:
            out.add((index_to_image[idx], class_by_key[parts[1]]))
    return out
