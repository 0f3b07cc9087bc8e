"""YOLO prediction text, as Ultralytics writes it: ``yolo predict`` / ``yolo val`` with ``save_txt=True
save_conf=True`` (``Results.save_txt``; ``DetectionValidator.save_one_txt``).

The run's folder (``runs/detect/val/``) holds ``labels/<image stem>.txt``, one line a detection, ``class x_center
y_center width height confidence``: the box normalised to [0, 1] by the width and height of the image as it was
read (Ultralytics reads images with OpenCV, EXIF orientation applied, as :mod:`detector.data.images` does), written
``%g`` (6 significant digits). A segmentation model writes ``class x1 y1 x2 y2 … confidence`` (a polygon), read as
its bounding box, as the YOLO ground-truth reader reads one (:mod:`detector.data.yolo`). An image without detections
has no file. Without ``save_conf`` the confidence is missing (5 fields, or a polygon's odd count): such a file cannot
be ranked, and is refused saying so.

Two things the file does not say come from the ground truth, in :func:`eval.predictions.align_predictions`:

- **the image size**: a box is scaled by the width and height of the ground-truth image its file's stem matches
  (:func:`to_pixels`);
- **the class**: a class index. Against YOLO ground truth, the index of its ``names`` — what ``yolo val`` scores.
  Against other ground truth, the names in a ``classes.txt`` / ``obj.names`` / dataset YAML in the predictions'
  folder or its parent (:func:`detector.data.yolo.names_beside`; put the training data.yaml there), matched to the
  ground truth's classes by name as any other format's (ILSVRC WordNet id where both map onto it); without one the
  file is refused, as an index alone names no class (:func:`yolo_classes`).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from detector.data import Dataset, DatasetError
from detector.data.boxes import yolo_to_xyxy
from detector.data.io import count, decode_text, not_text, text_head
from detector.data.vocab import Category
from detector.data.yolo import NAMES_FILES, name_category, names_beside, parse_numbers, polygon_box

__all__ = ["FORMAT", "is_yolo_results", "results_file", "results_files", "read_yolo_results", "yolo_classes", "to_pixels"]

FORMAT = "yolo_txt"


def _label_folder(folder: Path) -> Path:
    """Where the text files are: ``labels/`` of a run's folder, else the folder itself."""
    return folder / "labels" if (folder / "labels").is_dir() else folder


def _text_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".txt" and p.name not in NAMES_FILES
                      and p.is_file())
    except OSError:
        return []


def results_file(folder: Path, stem: str) -> Path:
    """The text file of the image ``stem`` in a YOLO run's ``folder``."""
    return _label_folder(folder) / f"{stem}.txt"


def results_files(folder: Path) -> list[Path]:
    """The text files a YOLO run's ``folder`` would be read from (its ``labels/``, else its own ``*.txt``)."""
    return _text_files(_label_folder(folder))


def is_yolo_results(folder: Path) -> bool:
    """Whether ``folder`` (a prediction folder: VOC devkit results aside) holds YOLO text: a ``labels/`` folder, or
    text files whose first line is numbers with an integer class, 6 or more of them."""
    labels = _label_folder(folder)
    if labels != folder:
        return True
    for f in _text_files(folder)[:1]:
        first = next((ln.split() for ln in text_head(f).splitlines() if ln.strip()), None)
        vals = parse_numbers(first) if first else None
        return vals is not None and len(vals) >= 6 and vals[0].is_integer()
    return False


def labels_without_confidence(folder: Path) -> str:
    """A hint for a prediction folder that is not read as predictions, where its text files (or those of its
    sub-folders, as a YOLO dataset's ``labels/val/``) are YOLO lines of 5 numbers, ``class cx cy w h``: ground-truth
    labels, or a run saved without ``save_conf=True`` (trial 48: a dataset's folder given as --pred scored every AP
    0 as "a run that found nothing"); '' otherwise."""
    try:
        folders = [folder, *sorted(sub for sub in folder.iterdir() if sub.is_dir())]
    except OSError:
        return ""
    for sub in folders:
        for f in _text_files(sub)[:1]:
            first = next((ln.split() for ln in text_head(f).splitlines() if ln.strip()), None)
            vals = parse_numbers(first) if first else None
            if vals is not None and len(vals) == 5 and vals[0].is_integer():
                return (f"{f} holds YOLO lines 'class x_center y_center width height' without a confidence: "
                        "ground-truth labels (a dataset's labels/<split>/, given as --gt), or a run saved without "
                        "save_conf=True; predictions are what yolo predict/val write with save_txt=True "
                        "save_conf=True, labels/<image stem>.txt in the run's folder")
    return ""


def read_yolo_results(folder) -> "Predictions":
    """The predictions of a YOLO run's folder (``labels/*.txt``, or a folder of such files): ``Predictions`` with
    ``format`` :data:`FORMAT`, each image named by its file's stem, boxes xyxy **normalised** (``normalised``: scaled
    by :func:`to_pixels` once matched), categories one per class index (``source_id``), named where the text files'
    folder (``labels/``), the run's folder or its parent has class names (:func:`detector.data.yolo.names_beside`),
    else ``class <i>``.

    Raises :class:`~eval.predictions.PredictionError` naming file and line for a line without a confidence (saved
    without ``save_conf=True``), of a wrong number of fields, not numbers, a class that is not a non-negative integer,
    a non-finite number or a negative width or height. An empty ``labels/`` is a run that found nothing."""
    from .predictions import PredictionError, Predictions  # imported here: predictions dispatches to this module

    folder = Path(folder)
    labels_dir = _label_folder(folder)
    files = _text_files(labels_dir)  # none: a run that found nothing (an image without detections has no file)
    if not files:  # a run that found nothing, unless its text files lie a folder down (a dataset's labels/val/)
        if hint := labels_without_confidence(labels_dir):
            raise PredictionError(f"{folder}: no predictions in {labels_dir}, but {hint}")
        try:
            inside = [sub for sub in sorted(labels_dir.iterdir()) if sub.is_dir() and _text_files(sub)]
        except OSError:
            inside = []
        if inside:
            raise PredictionError(f"{folder}: no predictions in {labels_dir} itself, but {inside[0]} holds text files: "
                                  "a YOLO run writes labels/<image stem>.txt, one folder; give that folder as --pred")
    try:
        # beside the text files (a classes.txt put in run/labels), in the run's folder, or the one above it
        found = names_beside(labels_dir, levels=2 if labels_dir != folder else 1)
    except DatasetError as e:
        raise PredictionError(str(e)) from None
    names, rows, labels_of, stems, line_of = None, [], [], [], []
    if found is not None:
        names = found[0]
    for f in files:
        try:
            text = decode_text(f.read_bytes())
        except OSError as e:
            raise PredictionError(f"{f}: cannot read: {e.strerror or e}") from None
        except UnicodeDecodeError as e:
            raise PredictionError(f"{f}: {not_text(e)}, not YOLO prediction text") from None
        for n, line in enumerate(text.splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            where, written = f"{f}:{n}", " ".join(parts)
            if len(parts) < 6 or len(parts) % 2:
                hint = ("'class x_center y_center width height' without a confidence" if len(parts) == 5 else
                        "a polygon without a confidence — or a tracker's 'class x_center y_center width height "
                        "confidence track_id'" if len(parts) == 7 else
                        "a polygon without a confidence" if len(parts) > 6 and len(parts) % 2 else
                        "expected 'class x_center y_center width height confidence'")
                track = (" (tracks: save the detections of yolo predict, which writes no track id)"
                         if len(parts) == 7 else "")
                raise PredictionError(f"{where}: {len(parts)} fields, {hint}: {written!r}. Predictions are ranked "
                                      "by their confidence: save them with it (yolo predict/val save_txt=True "
                                      f"save_conf=True){track}")
            vals = parse_numbers(parts)
            if vals is None:
                raise PredictionError(f"{where}: not numbers: {written!r}")
            if not all(math.isfinite(v) for v in vals):
                raise PredictionError(f"{where}: NaN or infinite number: {written!r}")
            if not (vals[0].is_integer() and vals[0] >= 0):
                raise PredictionError(f"{where}: class {parts[0]!r} is not a class index (0, 1, …): {written!r}")
            c = int(vals[0])
            if names is not None and c >= len(names):
                raise PredictionError(f"{where}: class {c} is not among the {count(len(names), 'name')} of "
                                      f"{found[1]}: {written!r}")
            if len(parts) == 6:
                cx, cy, w, h = vals[1:5]
                if w < 0 or h < 0:
                    raise PredictionError(f"{where}: box has a negative width or height: {written!r}")
                box = yolo_to_xyxy([cx, cy, w, h], 1.0, 1.0)[0]
            else:  # polygon + confidence: its bounding box
                box = np.asarray(polygon_box(vals[1:-1]), dtype=np.float64)
            rows.append((*box, vals[-1]))
            labels_of.append(c)
            stems.append(f.stem)
            line_of.append(n)
    used = sorted(set(labels_of))
    pos = {c: j for j, c in enumerate(used)}
    categories = tuple(name_category(names[c], c) if names is not None else Category(f"class {c}", source_id=c)
                       for c in used)
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    return Predictions(FORMAT, str(folder), tuple(stems), tuple(stems), categories,
                       np.asarray([pos[c] for c in labels_of], dtype=np.int64), arr[:, 4].copy(), arr[:, :4].copy(),
                       by_source_id=names is None, normalised=True, lines=np.asarray(line_of, dtype=np.int64))


def yolo_classes(preds, gt: Dataset, notes: list[str] | None = None):
    """``preds`` (YOLO text) with each class index a class ``gt`` knows: against YOLO ground truth, its class of
    that index (the index of its ``names``: what ``yolo val`` scores); else by the names found beside the
    predictions (:func:`read_yolo_results`: matched by name or ILSVRC WordNet id, as other formats are). Names
    beside the predictions that name an index otherwise than the YOLO ground truth does (a COCO model's
    ``data.yaml`` beside its predictions on a dataset of other classes) are matched by name too, and a note appended
    to ``notes`` says so: the index alone would score the model's ``person`` as the ground truth's class 0. Raises
    :class:`~eval.predictions.PredictionError` when there are none, or an index is beyond the YOLO ground truth's
    names."""
    from .predictions import PredictionError

    if gt.format == "yolo" and not preds.by_source_id:
        differ = [c for c in preds.categories if c.source_id >= len(gt.classes)
                  or (c.key != gt.classes[c.source_id].key and c.name != gt.classes[c.source_id].name)]
        if differ:
            c = differ[0]
            other = (f"the ground truth's is {gt.classes[c.source_id].name!r}" if c.source_id < len(gt.classes)
                     else f"the ground truth has {count(len(gt.classes), 'name')}")
            if notes is not None:
                notes.append(f"{preds.source}: the class names beside the predictions are not the ground truth's "
                             f"(class {c.source_id} is {c.name!r} there, {other}): classes matched by name, "
                             "not by index")
            return preds
    if gt.format == "yolo":
        beyond = [k for k, c in enumerate(preds.categories) if c.source_id >= len(gt.classes)]
        if beyond:
            first = int(np.flatnonzero(preds.labels == beyond[0])[0])  # its first line (trial 40: the folder only)
            raise PredictionError(f"{preds.where(first)}: class {preds.categories[beyond[0]].source_id} is not "
                                  f"among the {count(len(gt.classes), 'name')} of the ground truth {gt.source} (indices "
                                  f"0-{len(gt.classes) - 1}): predictions of another dataset's classes?")
        return dataclasses.replace(preds, categories=tuple(gt.classes[c.source_id] for c in preds.categories),
                                   by_source_id=False)
    if preds.by_source_id:  # no names beside the files
        raise PredictionError(
            f"{preds.source}: YOLO predictions give class indices only, and the ground truth {gt.source} is "
            f"{gt.format}, not YOLO, whose names would say which class an index is: evaluate against the YOLO "
            "dataset's data.yaml, or put the model's class names beside the predictions (its data.yaml, or a "
            f"classes.txt of one name a line in index order, in {preds.source})")
    return preds


def to_pixels(boxes: np.ndarray, image_index: np.ndarray, gt: Dataset, source: str) -> np.ndarray:
    """Normalised xyxy ``boxes`` ``[P, 4]`` in pixels of the ground-truth image each is on (``image_index`` [P],
    -1: none; those stay as they are, left out by the caller). Raises
    :class:`~eval.predictions.PredictionError` for an image whose size the ground truth does not know (0)."""
    from .predictions import PredictionError

    out = boxes.copy()
    on = image_index >= 0
    if not on.any():
        return out
    sizes = np.asarray([(im.width, im.height) for im in gt.images], dtype=np.float64).reshape(-1, 2)[image_index[on]]
    if (sizes <= 0).any():
        k = int(image_index[on][np.flatnonzero((sizes <= 0).any(axis=1))[0]])
        raise PredictionError(f"{source}: the ground truth {gt.source} gives no size for {gt.images[k].file_name!r}, "
                              "and YOLO boxes are fractions of it")
    out[on] = out[on] * np.concatenate([sizes, sizes], axis=1)
    return out
