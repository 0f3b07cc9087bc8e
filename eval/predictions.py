"""Reading predictions and lining them up with ground truth.

Five formats, told apart by content (and a VOC results file by its name):

- ``boxes_json``: this project's ``boxes.json`` (``{"images", "categories", "detections", "errors"}``, see
  DESIGN.md), read and checked by :func:`detector.data.boxes_json.read_detections`, the module that owns the form;
- ``coco_results``: a COCO results list ``[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}]``, each
  entry optionally with ``"file_name"`` (the image's path, as ``detect run --format coco`` writes it) and
  ``"category_name"`` / ``"wnid"`` (its class, ditto; pycocotools ignores these keys). Without a category name,
  ``category_id`` means the ground truth's own COCO category id where the ground truth is COCO JSON, else the
  ILSVRC det_id;
- ``ilsvrc_text``: the ILSVRC submission text, one ``<image_index> <det_id> <confidence> <xmin> <ymin> <xmax>
  <ymax>`` per line (0-based inclusive pixels), image indices as in the evaluation list;
- ``voc_results``: PASCAL VOC devkit results, as the devkit (``VOCevaldet.m``: ``VOCopts.detrespath``), py-faster-rcnn
  and Detectron write them: one file per class, ``<comp>_det_<image set>_<class>.txt`` (``comp4_det_test_person.txt``;
  py-faster-rcnn salts ``<comp>``: ``comp4_<uuid>_det_test_person.txt``), each line ``<image identifier> <confidence>
  <xmin> <ymin> <xmax> <ymax>`` in 1-based inclusive pixels (py-faster-rcnn writes its 0-based boxes + 1). Given as
  one such file or a folder of one run's (one ``<comp>_det_<image set>``, one file per class); the class is the file
  name's last ``_`` part, read as the VOC reader reads ``<name>`` (:func:`detector.data.readers.voc_category`), the
  identifier is the image's (its annotation's) stem;
- ``yolo_txt``: a folder of YOLO text as ``yolo predict`` / ``yolo val`` with ``save_txt=True save_conf=True`` write it
  (``labels/<image stem>.txt``, ``class cx cy w h conf`` normalised), read by :mod:`eval.yolo_results`: boxes
  scaled by the matched ground-truth image's size, class indices named by the ground truth's YOLO names.

Numbers stay as the file gives them: scores and boxes ``float64`` (COCO boxes also in their own ``[x, y, w, h]``,
which the ``coco`` metric hands to pycocotools unchanged), so that a metric equals the reference tool's on the same
file. A box with a negative width or height is refused, naming the file and the entry or line.

Predictions are matched to ground-truth images by name where the format gives one (``boxes.json`` and named COCO
results: the ``file_name``; ILSVRC text: the evaluation list's name of its index; VOC results: the identifier,
which fits the image of that stem) under the rule of
:mod:`detector.data.names` — trailing path components, the longest agreement wins, a tie is refused — and by id
only where the ground truth defines ids (COCO JSON's own ids, an ILSVRC evaluation list's indices): an id is never
taken for a position. Classes are matched by :attr:`Category.key` (the ILSVRC wnid where both sides map onto the
vocabulary, else the name).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detector.data import Dataset, DatasetError, boxes_json, ilsvrc_to_xyxy, read_image_list, voc_to_xyxy, xywh_to_xyxy
from detector.data.boxes_json import BoxesJsonError, check_bbox, check_image_id, image_list_path
from detector.data.dataset import wrong_sizes
from detector.data.io import TOO_DEEP, count, decode_text, not_text
from detector.data.names import AmbiguousImageName, ImageNameIndex, how_to_tell_apart
from detector.data.readers import voc_category
from detector.data.vocab import VOC_CLASSES, Category, category_for_name, ilsvrc_by_det_id, ilsvrc_by_wnid

from .yolo_results import (FORMAT as YOLO_FORMAT, is_yolo_results, labels_without_confidence, read_yolo_results,
                           results_file, to_pixels, yolo_classes)

__all__ = ["PredictionError", "Predictions", "AlignedPredictions", "read_predictions", "align_predictions",
           "known_classes", "better_elsewhere", "match_images", "read_blacklist", "voc_results_class",
           "PREDICTION_FORMATS"]

PREDICTION_FORMATS = ("boxes_json", "coco_results", "ilsvrc_text", "voc_results", "yolo_txt")

# VOCopts.detrespath of the VOC devkit: <comp>_det_<image set>_<class>.txt, <comp> salted by py-faster-rcnn and
# Detectron (comp4_<uuid>); the class is the last '_' part (no VOC class name has one), the image set what lies between
_VOC_RESULTS_NAME = re.compile(r"(?P<comp>.+?)_det_(?P<set>.+)_(?P<cls>[^_]+)\.txt", re.IGNORECASE)
VOC_RESULTS_FORM = "<comp>_det_<image set>_<class>.txt, e.g. comp4_det_test_person.txt"


class PredictionError(ValueError):
    """A prediction file that cannot be used; the message names the file and the line or entry."""


class ImageListNeeded(PredictionError):
    """ILSVRC submission text read without the evaluation list that numbers its images."""


@dataclass(frozen=True, eq=False)
class Predictions:
    """P predictions as read from a file, before they are lined up with ground truth."""

    format: str
    source: str
    image_names: tuple[str | None, ...]  # [P] the image's name or path as the file gives it; None: none given
    image_ids: tuple[int | str, ...]  # [P] image id as the file gives it (ILSVRC text: the evaluation-list index)
    categories: tuple[Category, ...]  # the classes referred to
    labels: np.ndarray  # int64 [P] index into categories
    scores: np.ndarray  # float64 [P]
    boxes: np.ndarray  # float64 [P, 4] xyxy
    by_source_id: bool = False  # categories are raw COCO ids (``Category.source_id``) to resolve against the GT
    errors: tuple[dict, ...] = field(default=())  # images the detector could not read (boxes.json "errors")
    xywh: np.ndarray | None = None  # float64 [P, 4]: the file's own COCO [x, y, w, h] (COCO formats), else None
    listed_images: tuple[str, ...] = ()  # every image the detector ran on, detections or not (boxes.json
    #                                      "images"; ILSVRC text: its evaluation list, as detect run --format ilsvrc
    #                                      writes it); COCO results name only images with predictions
    image_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (width, height) in pixels of
    #                                      the image the detector ran on (boxes.json "images"), where the file says
    files: tuple[str, ...] = ()  # VOC results: the file of each category (one file per class), else ()
    lines: np.ndarray | None = None  # int64 [P] VOC results: each prediction's line in its class's file (YOLO text:
    #                                  in its image's file), else None
    normalised: bool = False  # boxes are fractions of the image's width and height (YOLO text), scaled once matched
    kept_classes: tuple[str, ...] | None = None  # the classes its run kept (`detect run --classes`, from boxes.json's
    #                                              job or a coco / ilsvrc output's job record); (): all its model's
    #                                              (a job without --classes); None: no job says

    def __len__(self) -> int:
        return len(self.scores)

    def where(self, p: int) -> str:
        """Where prediction ``p`` is written, for messages: ``file:line`` (VOC results, YOLO text), else the file."""
        if self.lines is None:
            return self.source
        if self.format == YOLO_FORMAT:
            return f"{results_file(Path(self.source), self.image_names[p])}:{int(self.lines[p])}"
        return f"{self.files[int(self.labels[p])]}:{int(self.lines[p])}"


@dataclass(frozen=True, eq=False)
class AlignedPredictions:
    """Predictions expressed in the ground truth's terms: image and class indices of the ``Dataset``."""

    image_index: np.ndarray  # int64 [P] index into gt.images
    label: np.ndarray  # int64 [P] index into gt.classes
    scores: np.ndarray  # float64 [P]
    boxes: np.ndarray  # float64 [P, 4] xyxy (float32 accepted: detections of a network)
    unknown_images: tuple[str, ...] = ()  # images named by predictions but absent from the ground truth
    dropped_unknown_image: int = 0  # predictions left out for that reason
    dropped_other_class: dict[str, int] = field(default_factory=dict)  # class name -> predictions left out (class
    #                                                                      not among the ground truth's classes)
    # COCO results of a category_id the ground truth does not have: category_id (as a string) -> results left out
    dropped_other_category: dict[str, int] = field(default_factory=dict)
    known_classes: frozenset[int] = frozenset()  # GT class indices among the prediction file's categories
    xywh: np.ndarray | None = None  # float64 [P, 4] the file's own COCO boxes, where it had them (coco metric)
    notes: tuple[str, ...] = ()  # what the user should know about the matching (printed by the CLI)

    def __len__(self) -> int:
        return len(self.scores)


def kept_classes(job) -> tuple[str, ...] | None:
    """The classes a run kept (``detect run --classes``: ``job.settings.classes``) from its ``job`` — boxes.json's,
    or the job record's of a ``coco`` / ``ilsvrc`` output (:func:`detector.data.boxes_json.read_job_record`); ``()``
    when its settings have none (a run without ``--classes``, which kept all its model's: a job leaves the setting
    out then); None when the job says nothing (no job, no settings)."""
    settings = job.get("settings") if isinstance(job, dict) else None
    if not isinstance(settings, dict):
        return None
    kept = settings.get("classes")
    return tuple(str(n) for n in kept) if isinstance(kept, list) and kept else ()


def kept_class_key(name: str) -> str:
    """:attr:`Category.key` of a class a run kept, by its model's name: the ILSVRC class's wnid for a name or wnid
    of the 200 (a model of ILSVRC classes names them so), else the name."""
    c = category_for_name(name)
    return c.key if c is not None else name


def _recorded_kept_classes(preds: Predictions, sha256: str | None) -> Predictions:
    """A ``coco`` / ``ilsvrc`` output of ``detect run`` with the classes its job record says the run kept;
    ``sha256``: the digest of the file as it was read (:func:`_read_text_and_digest`), None when it has no job
    record beside it."""
    if sha256 is None:
        return preds
    record = boxes_json.read_job_record(preds.source, output_sha256=sha256)
    kept = kept_classes(record.get("job")) if record else None
    return preds if kept is None else dataclasses.replace(preds, kept_classes=kept)


def _read_boxes_json(path: Path, data: dict) -> Predictions:
    t = boxes_json.read_detections(data, path)
    return Predictions("boxes_json", str(path), t.image_names, t.image_ids, t.categories, t.labels, t.scores,
                       xywh_to_xyxy(t.xywh), errors=t.errors, xywh=t.xywh, kept_classes=kept_classes(data.get("job")),
                       listed_images=tuple(str(im["file_name"]) for im in data["images"]),
                       image_sizes={str(im["file_name"]): (im["width"], im["height"]) for im in data["images"]
                                    if isinstance(im.get("width"), int) and isinstance(im.get("height"), int)})


def _read_coco_results(path: Path, data: list) -> Predictions:
    n = len(data)
    image_ids, image_names, bboxes = [], [], []
    labels, scores = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.float64)
    cats: dict[tuple, int] = {}
    named = None  # index of the first entry, and whether it names its category
    for i, d in enumerate(data):
        where = f"{path}: [{i}]"
        if not isinstance(d, dict):
            raise PredictionError(f"{where} is not a result object {{'image_id', 'category_id', 'bbox', 'score'}}")
        if "bbox" not in d and "segmentation" in d:  # trial 42: said "lacks one of …"
            raise PredictionError(f"{where} has a 'segmentation' but no 'bbox': detect eval scores boxes — give each "
                                  "result its 'bbox' [x, y, w, h] (detectron2 and mmdetection write both; for an RLE "
                                  "mask, pycocotools.mask.toBbox gives it)")
        lacking = [k for k in ("image_id", "category_id", "bbox", "score") if k not in d]
        if lacking:
            raise PredictionError(f"{where} lacks {', '.join(repr(k) for k in lacking)}")
        bboxes.append(check_bbox(d, where))
        cid = d["category_id"]
        if isinstance(cid, float) and cid.is_integer():  # 18.0, as numpy exports write it (pycocotools takes it)
            d = {**d, "category_id": int(cid)}
        elif not isinstance(cid, int) or isinstance(cid, bool):
            raise PredictionError(f"{where}: category_id must be an integer, got {cid!r}")
        image_ids.append(check_image_id(d["image_id"], where))
        file_name = d.get("file_name")
        if file_name is not None and not isinstance(file_name, str):
            raise PredictionError(f"{where}: file_name must be a string, got {file_name!r}")
        image_names.append(file_name)
        has_name = d.get("category_name") is not None
        if named is None:
            named = (i, has_name)
        elif has_name != named[1]:
            with_name, without = (i, named[0]) if has_name else (named[0], i)
            raise PredictionError(f"{path}: [{with_name}] names its class ('category_name') but [{without}] does not: "
                                  "a results file names the classes of all its entries or of none")
        key = (d["category_id"], str(d["category_name"]), d.get("wnid") or None) if has_name else (d["category_id"],)
        labels[i] = cats.setdefault(key, len(cats))
        scores[i] = d["score"]
    categories = []
    for key in cats:
        if len(key) == 1:
            categories.append(Category(f"category {key[0]}", source_id=key[0]))
        else:
            # no wnid: the name is mapped as the ground-truth readers map a COCO (VOC) class's ('person' → n00007846)
            vocab = ilsvrc_by_wnid().get(key[2]) if key[2] else \
                category_for_name(key[1], "coco") or category_for_name(key[1], "voc")
            categories.append(Category(key[1], vocab.wnid if vocab else key[2], vocab.det_id if vocab else None,
                                       source_id=key[0]))
    xywh = np.asarray(bboxes, dtype=np.float64).reshape(n, 4)
    return Predictions("coco_results", str(path), tuple(image_names), tuple(image_ids), tuple(categories), labels,
                       scores, xywh_to_xyxy(xywh), by_source_id=not (named and named[1]), xywh=xywh)


def _checked_lines(path, text: str, fields: int, first_value: int, form: str):
    """The non-empty lines of a text prediction file (ILSVRC submission text, VOC devkit results), each as ``(line
    number, its fields, the floats of fields[first_value:])``: ``confidence xmin ymin xmax ymax`` last, checked as
    both devkits read them — ``fields`` of them (``form`` names them in the message), numbers, finite, and a width and
    height ``xmax - xmin + 1``, ``ymax - ymin + 1`` (inclusive pixels) not negative. :class:`PredictionError` names
    the file and line otherwise."""
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != fields:
            raise PredictionError(f"{path}:{n}: expected {fields} fields {form}, got {len(parts)}: {line.strip()!r}")
        try:  # Python reads "1_0" as 10, which neither devkit's reader does (trial 48)
            if any("_" in v for v in parts[first_value:]):
                raise ValueError
            vals = [float(v) for v in parts[first_value:]]
        except ValueError:
            raise PredictionError(f"{path}:{n}: not numbers: {line.strip()!r}") from None
        if not all(math.isfinite(v) for v in vals):
            raise PredictionError(f"{path}:{n}: NaN or infinite number: {line.strip()!r}")
        if vals[3] + 1 < vals[1] or vals[4] + 1 < vals[2]:  # inclusive pixels: width = xmax - xmin + 1
            raise PredictionError(f"{path}:{n}: box has a negative width or height (xmax < xmin - 1 or ymax < "
                                  f"ymin - 1): {line.strip()!r}")
        yield n, parts, vals


def _read_ilsvrc_text(path: Path, text: str, image_list) -> Predictions:
    first = next((ln.split() for ln in text.splitlines() if ln.strip()), [])
    if len(first) == 6 and not first[1].lstrip("+-").isdigit():  # a confidence where ILSVRC text has its det_id
        # (trial 33: answered "pass --image-list", then "expected 7 fields"); one named as the devkit names them is
        # read before this (read_predictions)
        raise PredictionError(f"{path}: its lines have 6 fields, as a PASCAL VOC devkit results file's "
                              "('<image> <confidence> <xmin> <ymin> <xmax> <ymax>', one file per class), but its name "
                              f"is not one's ({VOC_RESULTS_FORM}), which gives its class: name it so, or give detect "
                              "run's boxes.json, COCO results or ILSVRC submission text (7 fields)")
    if first and len(first) != 7:  # trial 52: a CSV or a YOLO label file was first told to pass --image-list
        n = next(k for k, ln in enumerate(text.splitlines(), start=1) if ln.strip())
        raise PredictionError(f"{path}:{n}: expected 7 fields '<image_index> <det_id> <confidence> <xmin> <ymin> "
                              f"<xmax> <ymax>' (ILSVRC submission text, as a text file of predictions is read), got "
                              f"{len(first)}: {' '.join(first)[:80]!r}")
    if image_list is None:
        beside = image_list_path(path)
        raise ImageListNeeded(f"{path}: an ILSVRC submission file numbers images by an evaluation list: "
                              "pass --image-list (e.g. ilsvrc13_val2.txt" +
                              (f"; {beside}, written beside it by detect run --format ilsvrc" if beside.is_file()
                               else "; detect run --format ilsvrc writes one beside its output, <stem>.images.txt") +
                              ")")
    listed = read_image_list(image_list)
    index_to_name = {idx: name for name, idx in listed}
    by_det = ilsvrc_by_det_id()
    rows = []
    for n, parts, vals in _checked_lines(path, text, 7, 2, "'<image_index> <det_id> <confidence> <xmin> <ymin> "
                                         "<xmax> <ymax>'"):
        try:
            if "_" in parts[0] or "_" in parts[1]:  # int("1_0") is 10 (trial 48)
                raise ValueError
            idx, det_id = int(parts[0]), int(parts[1])
        except ValueError:
            raise PredictionError(f"{path}:{n}: not numbers: {' '.join(parts)!r}") from None
        if det_id not in by_det:
            raise PredictionError(f"{path}:{n}: unknown class id {det_id} (ILSVRC det_ids are 1..200)")
        if idx not in index_to_name:
            raise PredictionError(f"{path}:{n}: image index {idx} is not in {image_list}")
        rows.append((idx, det_id, *vals))
    _refuse_other_numbering(path, image_list, index_to_name, dict.fromkeys(r[0] for r in rows))
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
    det_ids = arr[:, 1].astype(np.int64)
    uniq = sorted(set(det_ids.tolist()))
    pos = {d: i for i, d in enumerate(uniq)}
    indices = [r[0] for r in rows]
    return Predictions(
        "ilsvrc_text", str(path),
        tuple(index_to_name[i] for i in indices),
        tuple(indices),
        tuple(by_det[d] for d in uniq),
        np.asarray([pos[d] for d in det_ids.tolist()], dtype=np.int64),
        arr[:, 2].copy(),
        ilsvrc_to_xyxy(arr[:, 3:7]),
        listed_images=tuple(dict.fromkeys(name for name, _ in listed)),  # the images it numbers: those run on
    )


def _refuse_other_numbering(path: Path, image_list, index_to_name: dict[int, str], used: Iterable[int]) -> None:
    """ILSVRC text that ``detect run --format ilsvrc`` wrote numbers its images by the list it wrote beside it,
    ``<stem>.images.txt``: refuse an ``image_list`` that numbers the indices the file uses otherwise (trial 48: a
    run's ``sub.txt`` evaluated with ``--image-list ilsvrc13_val2.txt``, the README's example, put every detection on
    another image and scored 0 without a word). Images are compared by the last part of their names."""
    beside = image_list_path(path)
    try:
        if not beside.is_file() or beside.samefile(image_list):
            return
        theirs = {idx: name for name, idx in read_image_list(beside)}
    except (OSError, DatasetError):  # not a list (nor ours to judge): the given list numbers the file
        return
    differ = [i for i in used if Path(theirs.get(i, "")).name != Path(index_to_name[i]).name]
    if differ:
        i = differ[0]
        theirs_says = f"{theirs[i]!r}" if i in theirs else "no image"
        raise PredictionError(
            f"{path}: {image_list} numbers its images otherwise than {beside}, the list written beside it by detect "
            f"run --format ilsvrc: index {i} is {index_to_name[i]!r} in the one and {theirs_says} in the other "
            f"({len(differ)} of the {len(set(used))} indices it uses differ), so its detections "
            f"would be scored on other images: pass --image-list {beside}")


def voc_results_class(path) -> str | None:
    """The class a PASCAL VOC devkit results file's name gives (``comp4_det_test_diningtable.txt`` →
    ``"diningtable"``: the part after the image set), or None when the name is not of that form."""
    m = _VOC_RESULTS_NAME.fullmatch(Path(path).name)
    return m["cls"] if m else None


def _voc_results_files(folder: Path) -> list[Path]:
    """The PASCAL VOC devkit results files (``*_det_*_<class>.txt``) of ``folder`` itself, sorted by name."""
    try:
        return sorted(p for p in folder.iterdir() if voc_results_class(p) is not None and p.is_file())
    except OSError as e:
        raise PredictionError(f"{folder}: cannot read the folder: {e.strerror or e}") from None


def _voc_results_category(path: Path) -> Category:
    """The class of a VOC results file, by its name as :func:`detector.data.readers.voc_category` reads a VOC
    ``<name>``. A VOC class written in other capitals (``Bottle``, ``PottedPlant``) is a class of that very name:
    the devkit reads each class's file by its exact, lower-case name (``VOCopts.detrespath``), so it would read none
    of these; such a file matches a ground-truth class of the same name only, and :func:`_refuse_other_capitals`
    refuses it against ground truth that has the lower-case class (trial 39: ``PottedPlant`` was taken through its
    WordNet id while ``Bottle``, which has none, was refused). Any other unknown name is an error naming the
    file."""
    name = voc_results_class(path)
    if name != name.lower() and name.lower() in VOC_CLASSES:
        return Category(name)
    cat = voc_category(name)
    if cat is None:
        raise PredictionError(f"{path}: its class {name!r} (the name's part after the image set, {VOC_RESULTS_FORM}) "
                              f"is no PASCAL VOC class ({', '.join(VOC_CLASSES)}) nor an ILSVRC class name or WordNet "
                              "id")
    return cat


def _voc_results_run(path: Path) -> str:
    """The ``<comp>_det_<image set>`` part of a VOC results file's name (``comp4_det_test_person.txt`` →
    ``comp4_det_test``): the competition and image set it is of, the same for every class of one run."""
    m = _VOC_RESULTS_NAME.fullmatch(path.name)
    return path.name[:m.start("cls") - 1]


def _refuse_mixed_runs(folder: Path, files: list[Path]) -> None:
    """Refuse a folder whose results files are of more than one ``<comp>_det_<image set>`` (two competitions, two
    image sets, or two py-faster-rcnn runs of different salts), naming each with its count of files: the devkit
    evaluates one competition on one image set, reading each class's file by that exact name
    (``VOCopts.detrespath``, ``VOCevaldet.m``), so such files are no one run's results."""
    runs = Counter(_voc_results_run(f) for f in files)
    if len(runs) < 2:
        return
    which = ", ".join(f"{run}_* ({count(k, 'file')})" for run, k in sorted(runs.items()))
    raise PredictionError(f"{folder}: results files of {len(runs)} runs or image sets ({which}): the PASCAL VOC devkit "
                          "evaluates one competition on one image set, and a folder given as predictions is read as "
                          "one run's files, one per class; give --pred a folder holding one run's files only (move "
                          "the other runs' files out), or one file of it")


def _read_voc_results_folder(folder: Path) -> Predictions:
    """Every VOC results file of ``folder``: one run's, one per class. Files of several ``<comp>_det_<image set>``
    (:func:`_refuse_mixed_runs`) and two files of one class are refused, naming them."""
    files = _voc_results_files(folder)
    if not files:
        try:
            inside = [sub for sub in sorted(folder.iterdir()) if sub.is_dir() and _voc_results_files(sub)]
        except (OSError, PredictionError):
            inside = []
        hint = f" ({inside[0]} holds some: give that folder)" if inside else ""
        if not inside and (labels := labels_without_confidence(folder)):
            hint = f" ({labels})"
        raise PredictionError(f"{folder}: a folder holding no PASCAL VOC devkit results file ({VOC_RESULTS_FORM})"
                              f" nor YOLO text (labels/<image stem>.txt, 'class cx cy w h conf' lines){hint}: a "
                              "folder given as predictions is read as the devkit's results files, one per class, or "
                              "as a YOLO run's folder; give boxes.json, COCO results or ILSVRC submission text as the "
                              "file itself")
    _refuse_mixed_runs(folder, files)
    by_key: dict[str, Path] = {}
    read = []
    for f in files:
        cat = _voc_results_category(f)
        if cat.key in by_key:
            raise PredictionError(f"{folder}: {by_key[cat.key].name} and {f.name} are both results of the class "
                                  f"{cat.name!r} (two names of it): a folder holds one file per class; move one of "
                                  "them out")
        by_key[cat.key] = f
        read.append((f, _read_text(f), cat))
    return _read_voc_results(folder, read)


def _read_voc_results(source: Path, files: list[tuple[Path, str, Category]]) -> Predictions:
    """Predictions of VOC results files ``(file, text, its class)`` (``source``: the file or the folder given):
    the lines of each file in its order (``VOCevaldet.m`` ranks equal confidences so), boxes 1-based inclusive
    converted as VOC XML is (``(xmin - 1, ymin - 1, xmax, ymax)``: a box written from a ground-truth box is that box,
    IoU 1). Each line is checked as ILSVRC text is: 6 fields, numbers (``textscan('%s %f %f %f %f %f')``), finite,
    width and height ``xmax - xmin + 1`` and ``ymax - ymin + 1`` not negative."""
    names, rows, labels, lines = [], [], [], []
    for j, (f, text, _) in enumerate(files):
        for n, parts, vals in _checked_lines(f, text, 6, 1, "'<image> <confidence> <xmin> <ymin> <xmax> <ymax>' (a "
                                             "PASCAL VOC devkit results file)"):
            names.append(parts[0])
            rows.append(vals)
            labels.append(j)
            lines.append(n)
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    return Predictions("voc_results", str(source), tuple(names), tuple(names), tuple(cat for _, _, cat in files),
                       np.asarray(labels, dtype=np.int64), arr[:, 0].copy(), voc_to_xyxy(arr[:, 1:5]),
                       files=tuple(str(f) for f, _, _ in files), lines=np.asarray(lines, dtype=np.int64))


def _read_text(path: Path) -> str:
    """A prediction file's text; :class:`PredictionError` naming it when it cannot be read or is no text."""
    return _read_text_and_digest(path)[0]


def _read_text_and_digest(path: Path) -> tuple[str, str | None]:
    """A prediction file's text (:func:`_read_text`) and, where a job record lies beside it
    (:func:`detector.data.boxes_json.job_record_path`), the SHA-256 (hex) of the bytes read, which the record is
    checked against (:func:`_recorded_kept_classes`), else None: the file is read once, however large."""
    try:
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest() if boxes_json.job_record_path(path).is_file() else None
        return decode_text(raw), digest
    except FileNotFoundError:
        raise PredictionError(f"{path}: no such file") from None
    except OSError as e:
        raise PredictionError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise PredictionError(f"{path}: {not_text(e)}, not a prediction file in any of the formats (boxes.json: "
                              "the output of `detect run`; COCO results; ILSVRC text; VOC results)") from None


def read_predictions(path, *, image_list=None) -> Predictions:
    """Read a prediction file in any of :data:`PREDICTION_FORMATS` (told from its content: a JSON object is
    ``boxes.json``, a JSON list COCO results, a text file named as the VOC devkit names its results
    (``comp4_det_test_person.txt``) VOC results, anything else ILSVRC text), or a folder of VOC results files. Text is
    UTF-8, or UTF-8/16/32 with a byte-order mark.

    Raises :class:`PredictionError` naming the file (and line or entry) when it cannot be read or used."""
    path = Path(path)
    if path.is_dir() and not _voc_results_files(path) and is_yolo_results(path):  # VOC results first, as before
        return read_yolo_results(path)
    if path.is_dir():
        return _read_voc_results_folder(path)
    text, digest = _read_text_and_digest(path)
    head = text.lstrip()[:1]
    if head in ("{", "["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise PredictionError(boxes_json.unfinished_run_note(path, text) or
                                  f"{path}:{e.lineno}: not valid JSON: {e.msg} (column {e.colno})") from None
        except RecursionError:
            raise PredictionError(f"{path}: {TOO_DEEP}: no predictions in any format") from None
        try:
            if isinstance(data, dict):
                return _read_boxes_json(path, data)
            return _recorded_kept_classes(_read_coco_results(path, data), digest)
        except BoxesJsonError as e:  # the entry checks shared with the boxes.json reader
            raise PredictionError(str(e)) from None
    if voc_results_class(path) is not None:  # named as the devkit names them (empty: a class without detections)
        return _read_voc_results(path, [(path, text, _voc_results_category(path))])
    if not text.strip() and image_list is None and not image_list_path(path).is_file():  # else: the list beside it
        raise PredictionError(f"{path}: the file is empty (no predictions in any format)")
    try:
        return _recorded_kept_classes(_read_ilsvrc_text(path, text, image_list), digest)
    except DatasetError as e:  # the evaluation list itself
        raise PredictionError(str(e)) from None


def match_images(preds: Predictions, gt: Dataset, elsewhere: Collection[str] = frozenset()
                 ) -> tuple[np.ndarray, list[str]]:
    """``image_index`` int64 [P] (-1: not in the ground truth) and notes; see the module docstring for the rule.

    One prediction image (boxes.json: an ``images`` entry; COCO results: a ``(image_id, file_name)`` pair; ILSVRC
    text: an index) goes to at most one ground-truth image, and a ground-truth image takes at most one prediction
    image: when several fit it, the best fit takes it and the others are left out (a tie is refused). Names in
    ``elsewhere`` (:func:`better_elsewhere`) are another ground truth's images and go to none of this one's."""
    n = len(preds)
    image_index = np.full(n, -1, dtype=np.int64)
    keys = list(zip(preds.image_ids, preds.image_names))
    unique = list(dict.fromkeys(keys))
    notes = []
    names_index = None
    by_id = None
    target: dict[tuple, int] = {}
    claims: dict[int, list[tuple[tuple, tuple]]] = {}  # gt index -> [(score, key)]
    for key in unique:
        image_id, name = key
        if name is None:
            if gt.id_source == "position":
                raise PredictionError(
                    f"{preds.source}: its images are given by image_id only (no 'file_name'), and the ground truth "
                    f"{gt.source} ({gt.format}) has no image ids of its own, only positions, which an id cannot be "
                    "matched to: evaluate against COCO JSON (its ids) or ILSVRC XML with --image-list, or give each "
                    "result its image's 'file_name' (detect run --format coco does)")
            if by_id is None:
                by_id = {im.image_id: i for i, im in enumerate(gt.images)}
            g = by_id.get(image_id)
            if g is not None:
                target[key] = g
                claims.setdefault(g, []).append(((1 << 30, True, True), key))
            continue
        if name in elsewhere:
            continue
        if names_index is None:
            names_index = ImageNameIndex([im.file_name for im in gt.images])
        try:
            found = names_index.match(name)
        except AmbiguousImageName as e:
            raise PredictionError(f"{_first_where(preds, name)}: {e} (in {gt.source}); name the image by a longer "
                                  "path") from None
        if found is not None:
            target[key] = found[0]
            claims.setdefault(found[0], []).append((found[1], key))
    for g, cl in claims.items():
        if len(cl) < 2:
            continue
        cl.sort(key=lambda c: c[0], reverse=True)
        if cl[0][0] == cl[1][0]:
            raise PredictionError(
                f"{preds.source}: two images of the predictions, {_show(cl[0][1])} and {_show(cl[1][1])}, fit the "
                f"ground-truth image {gt.images[g].file_name!r} equally well: "
                f"{how_to_tell_apart(str(cl[0][1][1]), str(cl[1][1][1]))}")
        for _, key in cl[1:]:
            del target[key]
            notes.append(f"{_show(key)} fits ground-truth image {gt.images[g].file_name!r} less well than "
                         f"{_show(cl[0][1])} does, which takes it; its predictions are left out")
    lookup = np.asarray([target.get(k, -1) for k in unique], dtype=np.int64)
    position = {k: j for j, k in enumerate(unique)}
    if n:
        image_index = lookup[np.fromiter((position[k] for k in keys), dtype=np.int64, count=n)]
    return image_index, notes


def _first_where(preds: Predictions, name: str) -> str:
    """Where the first prediction on the image ``name`` is written (``file:line`` for VOC results), else the file."""
    if preds.lines is None:
        return preds.source
    return preds.where(preds.image_names.index(name))


def _show(key) -> str:
    image_id, name = key
    return f"{name!r} (id {image_id!r})" if name is not None else f"image_id {image_id!r}"


def better_elsewhere(names: Iterable[str], gts: Sequence[Dataset], sizes: dict[str, tuple[int, int]] | None = None,
                     *, fitting_none: bool = False) -> list[frozenset[str]]:
    """For one prediction file shared by several ground truths (``detect eval`` with several ``--gt``): per ground
    truth, the image names of ``names`` that fit an image of another ground truth strictly better (the
    :mod:`detector.data.names` score: more trailing path components agreeing, then the extension too) — that
    dataset's images, not this one's (trial 25: ``voc/2008_000123.jpg`` of a VOC set was taken, extension aside, for
    another set's ``2008_000123.png`` and refused as not its size). A name that fits two ground truths equally well
    goes to the one whose image has the size the file gives it (``sizes``: name → (width, height), a
    ``boxes.json``'s ``images``) when exactly one of them has (trial 28: ``x.jpeg`` fitting VOC's ``x.jpg`` and
    Penn-Fudan's ``x.png`` was refused as "not the size" of the second); else it stays with both, as before. One that
    two images of one ground truth fit equally is left to that one to refuse. ``fitting_none``: also, per ground
    truth, the names that fit none of its images but one of another's (VOC results, whose identifiers of no
    ground-truth image are refused, :func:`align_predictions`: there only those of none of the ground truths)."""
    indexes = [ImageNameIndex([im.file_name for im in gt.images]) for gt in gts]
    sizes = sizes or {}
    out: list[set[str]] = [set() for _ in gts]
    for name in dict.fromkeys(n for n in names if n is not None):
        try:
            found = [index.match(name) for index in indexes]
        except AmbiguousImageName:  # two of one ground truth's images: that one refuses it, as before
            continue
        best = max((f[1] for f in found if f is not None), default=None)
        tied = [k for k, f in enumerate(found) if f is not None and f[1] == best]
        size = sizes.get(name)
        if len(tied) > 1 and size is not None:
            same = [k for k in tied if (gts[k].images[found[k][0]].width, gts[k].images[found[k][0]].height) == size]
            if len(same) == 1:
                tied = same
        for k, f in enumerate(found):
            if (f is not None and k not in tied) or (fitting_none and f is None and tied):
                out[k].add(name)
    return [frozenset(o) for o in out]


def _other_ids_note(preds: Predictions, gt: Dataset, image_index: np.ndarray) -> list[str]:
    """A note when COCO results that name their images (``file_name``) give them ids other than the ground truth's
    of those names: ``detect eval`` matches them by name, but pycocotools matches by ``image_id`` alone and scores
    them against other images, or none — silently other numbers than ours on the same files (trial 66: two ids
    swapped, AP 0.0779 here, 0.0174 from pycocotools). ``detect run --format coco`` without ``--coco-gt`` numbers
    images by position, so its output gets the note too: its ids are for ``detect eval`` alone."""
    if preds.format != "coco_results" or gt.id_source != "file":
        return []
    other = {}
    for p, g in enumerate(image_index.tolist()):
        name, image_id = preds.image_names[p], preds.image_ids[p]
        if g >= 0 and name is not None and gt.images[g].image_id != image_id:
            other.setdefault(name, (image_id, gt.images[g].image_id))
    if not other:
        return []
    name, (theirs, ours) = next(iter(other.items()))
    return [f"{count(len(other), 'image')} of {preds.source} ha{'s' if len(other) == 1 else 've'} an image_id other "
            f"than the ground truth's id of {'its' if len(other) == 1 else 'their'} file_name (e.g. {name!r}: image_id {theirs!r} there, {ours!r} in "
            f"{gt.source}): detect eval matches results by file_name, but pycocotools matches by image_id alone and "
            "would score them against other images or none — `detect run --format coco --coco-gt GT` writes the "
            "ground truth's ids"]


def _category_zero_note(gt: Dataset, label: np.ndarray, class_by_source: dict) -> list[str]:
    """A note when COCO results put boxes in category id 0 of a COCO ground truth that has no object of it beside a
    category 1 — Roboflow's exports keep category 0 as an unused super-category, and results written with 0-based
    class indices (a YOLO model's) land there, every class one off, scoring 0 without another sign (trial 42)."""
    zero = class_by_source.get(0)
    if zero is None or 1 not in class_by_source:
        return []
    hits = int((label == zero).sum())
    if not hits or any((im.labels == zero).any() for im in gt.images):
        return []
    return [f"{count(hits, 'result')} of category_id 0 ({gt.classes[zero].name!r}), which no ground-truth object "
            f"has (Roboflow's exports keep category 0 as an unused super-category): if the results' ids are 0-based "
            "class indices (a YOLO model's), every class is one off — COCO results take the ground truth's "
            "categories[].id"]


@dataclass(frozen=True, eq=False)
class _ClassMap:
    """How the categories of a prediction file map onto the classes of a ground truth (:func:`_class_map`)."""

    preds: Predictions  # the file, its YOLO class indices named by the ground truth (:func:`yolo_classes`)
    cat_to_gt: np.ndarray  # int64 [len(preds.categories)] the ground-truth class of each category, -1 for none
    own_ids: bool  # COCO results whose category_id are the COCO ground truth's own ids
    not_own: list  # those of its category_id that are no category of that ground truth
    notes: list[str]  # what the mapping should say (YOLO names other than the ground truth's)
    known: frozenset[int]  # the ground-truth classes the file's model knows (its categories, the classes its run kept)


def _class_map(preds: Predictions, gt: Dataset) -> _ClassMap:
    """The ground-truth class of each category of ``preds``: by the COCO ground truth's own ids, by ILSVRC det_id,
    else by :attr:`Category.key`. Raises :class:`PredictionError` for a ``category_id`` that is neither."""
    class_notes: list[str] = []
    if preds.format == YOLO_FORMAT:  # class indices: the ground truth's YOLO names, or names beside the files
        preds = yolo_classes(preds, gt, class_notes)
    class_by_key = {c.key: i for i, c in enumerate(gt.classes)}
    class_by_source = {c.source_id: i for i, c in enumerate(gt.classes) if c.source_id is not None}

    # class of each prediction category in the GT (-1: not a GT class)
    cat_to_gt = np.full(len(preds.categories), -1, dtype=np.int64)
    # against COCO ground truth, ids are the file's own categories as soon as one of them is (pycocotools: results
    # of other ids are never matched); only a file none of whose ids is a category there is read as ILSVRC det_ids
    own_ids = preds.by_source_id and gt.format == "coco" and any(c.source_id in class_by_source
                                                                 for c in preds.categories)
    not_own = []
    for j, cat in enumerate(preds.categories):
        if preds.by_source_id:
            if gt.format == "coco" and cat.source_id in class_by_source:
                cat_to_gt[j] = class_by_source[cat.source_id]
                continue
            if own_ids:
                not_own.append(cat.source_id)
                continue
            vocab = ilsvrc_by_det_id().get(cat.source_id)
            if vocab is None:
                raise PredictionError(f"{preds.source}: unknown category_id {cat.source_id} (neither a category of "
                                      f"{gt.source} nor an ILSVRC det_id)")
            cat = vocab
        cat_to_gt[j] = class_by_key.get(cat.key, -1)

    known = frozenset(int(c) for c in cat_to_gt if c >= 0)
    if preds.kept_classes:  # a coco / ilsvrc output names only the classes it detected: its run kept these
        keys = {kept_class_key(name) for name in preds.kept_classes}
        known |= frozenset(i for i, c in enumerate(gt.classes) if c.key in keys)
    return _ClassMap(preds, cat_to_gt, own_ids, not_own, class_notes, known)


def known_classes(preds: Predictions, gt: Dataset) -> frozenset[int]:
    """The indices of ``gt.classes`` that the model of ``preds`` knows — the classes of its categories
    (``boxes.json``: its model's; other formats: those it predicts) and those its run kept (``--classes``, its job
    record): what ``--model-classes-only`` scores (:attr:`AlignedPredictions.known_classes`, known before
    aligning). Raises :class:`PredictionError` as :func:`align_predictions` does for an unknown ``category_id``."""
    return _class_map(preds, gt).known


def align_predictions(preds: Predictions, gt: Dataset, *, elsewhere: Collection[str] = frozenset(),
                      only_classes: Collection[int] | None = None) -> AlignedPredictions:
    """Express ``preds`` in terms of ``gt``'s images and classes; report what cannot be matched. ``elsewhere``:
    image names of ``preds`` that belong to another ground truth evaluated beside this one
    (:func:`better_elsewhere`): left out here like images of no ground truth, and their sizes not checked.
    ``only_classes``: the indices of ``gt.classes`` that the evaluation scores (``--model-classes-only``:
    :func:`known_classes` of the file scored), None for all — the notes count the objects of those alone.

    Raises :class:`PredictionError` for COCO results whose ``category_id`` is neither a ground-truth COCO category
    id nor an ILSVRC det_id; for images matched by id against ground truth without ids of its own (VOC,
    Penn-Fudan, ILSVRC without an evaluation list: their ids are positions); for an image name that fits two
    ground-truth images equally, or two prediction images that fit one ground-truth image equally (naming both);
    and when nothing of the file can be evaluated (:func:`_refuse_nothing_matched`: none of its images is a
    ground-truth image, or none of its classes a ground-truth class). A file with no predictions at all, the
    detector having found nothing (on ground-truth images, where it lists them), is no error: every AP is 0.

    VOC results: an identifier that is no ground-truth image (nor, in ``elsewhere``, another's) is refused naming
    its file and line, as ``VOCevaldet.m`` refuses it ("unrecognized image"), and so is a file whose class is a
    ground-truth class in other capitals only (:func:`_refuse_other_capitals`); ground-truth classes with objects but
    no results file are scored as classes without detections (AP 0), and a note names them."""
    m = _class_map(preds, gt)
    preds, cat_to_gt, own_ids, not_own, known = m.preds, m.cat_to_gt, m.own_ids, m.not_own, m.known
    class_notes = m.notes
    class_by_source = {c.source_id: i for i, c in enumerate(gt.classes) if c.source_id is not None}

    n = len(preds)
    image_index, notes = match_images(preds, gt, elsewhere)
    notes = class_notes + notes + _other_ids_note(preds, gt, image_index)
    boxes = to_pixels(preds.boxes, image_index, gt, preds.source) if preds.normalised else preds.boxes
    if not_own:
        # only results on ground-truth images: those on other images are left out as such (noted below), and with
        # several --gt sharing one file they are another dataset's, no loss
        on_gt = np.isin(preds.labels, [j for j, c in enumerate(preds.categories) if c.source_id in not_own]) & (
            image_index >= 0) if n else np.zeros(0, dtype=bool)
        ids = sorted({preds.categories[int(j)].source_id for j in preds.labels[on_gt]}, key=str)
        dropped_category = Counter(str(preds.categories[int(j)].source_id) for j in preds.labels[on_gt])
        if ids:
            notes.append(f"{count(int(on_gt.sum()), 'result')} of category_id {', '.join(map(str, ids[:8]))} left "
                         f"out: not categories of {gt.source} (pycocotools never matches them either)")
    else:
        dropped_category = Counter()
    notes += _check_images_run(preds, gt, image_index, elsewhere, only_classes)
    label = cat_to_gt[preds.labels] if n else np.zeros(0, dtype=np.int64)
    if own_ids and n:
        notes += _category_zero_note(gt, label, class_by_source)

    no_image = image_index < 0
    other_class = (~no_image) & (label < 0)
    unknown = sorted({_show((preds.image_ids[i], preds.image_names[i])) if preds.image_names[i] is None
                      else preds.image_names[i] for i in np.flatnonzero(no_image)})
    dropped_class = Counter(_category_name(preds, int(preds.labels[i])) for i in np.flatnonzero(other_class)
                            if not (not_own and preds.categories[int(preds.labels[i])].source_id in not_own))
    keep = ~(no_image | other_class)
    hint = _id_type_hint([preds.image_ids[i] for i in np.flatnonzero(no_image) if preds.image_names[i] is None], gt)
    if hint and (image_index >= 0).any():  # else the refusal below says it
        notes.append(hint)
    if preds.format == "voc_results":
        _refuse_other_capitals(preds, gt, cat_to_gt)
        _refuse_unknown_identifiers(preds, gt, image_index, elsewhere)
        notes += _classes_without_file(preds, gt, known, only_classes)
    _refuse_nothing_matched(preds, gt, bool((image_index >= 0).any()), known, elsewhere)
    if not n:
        on = f" on its {count(len(preds.listed_images), 'image')}" if preds.listed_images else ""
        found = (f"the detector found none of the classes its run kept: {', '.join(preds.kept_classes)} (--classes)"
                 if preds.kept_classes else "the detector found nothing")
        notes.append(f"{preds.source} holds no predictions{on} ({found}): every AP is 0")
    return AlignedPredictions(
        image_index=image_index[keep],
        label=label[keep],
        scores=preds.scores[keep],
        boxes=boxes[keep],
        unknown_images=tuple(unknown),
        dropped_unknown_image=int(no_image.sum()),
        dropped_other_class=dict(dropped_class),
        dropped_other_category=dict(dropped_category),
        known_classes=known,
        xywh=preds.xywh[keep] if preds.xywh is not None else None,
        notes=tuple(notes),
    )


def _refuse_other_capitals(preds: Predictions, gt: Dataset, cat_to_gt: np.ndarray) -> None:
    """VOC results: refuse a results file whose class is no class of ``gt`` but is one of its classes written in
    other capitals (``comp4_det_test_Bottle.txt`` against ``bottle``), naming the file and the class it probably
    means. ``VOCevaldet.m`` reads each class's file by its exact name (``VOCopts.detrespath`` with
    ``VOCopts.classes``, all lower case), so it would never read this one, and the class would score as one without
    detections; nor is it merged here into that class, which ground truth may keep apart from it (``read_voc`` keeps
    ``<name>Bottle</name>`` as a class of its own)."""
    for j in np.flatnonzero(cat_to_gt < 0).tolist():
        name = preds.categories[j].name
        meant = [c.name for c in gt.classes if c.name.lower() == name.lower()]
        if not meant:
            continue
        path = Path(preds.files[j])
        m = _VOC_RESULTS_NAME.fullmatch(path.name)
        renamed = f"{path.name[:m.start('cls')]}{meant[0]}.txt"
        which = f"{meant[0]!r}: probably the one meant" if len(meant) == 1 else \
            f"{' and '.join(repr(c) for c in meant)}: probably one of them"
        raise PredictionError(
            f"{path}: its class {name!r} is no class of the ground truth {gt.source}, which has {which}, written in "
            "other capitals; class names are matched as written, as the PASCAL VOC devkit reads each class's file by "
            f"its exact name (its class names are lower case), and ground truth may keep {name!r} apart from "
            f"{meant[0]!r} (the VOC reader keeps an XML <name> written otherwise as a class of its own): rename the "
            f"file {renamed}")


def _refuse_unknown_identifiers(preds: Predictions, gt: Dataset, image_index: np.ndarray,
                                elsewhere: Collection[str]) -> None:
    """VOC results: refuse the first line whose identifier is no image of ``gt`` (nor of another ground truth,
    ``elsewhere``), naming file and line: the devkit matches each identifier to ``Annotations/<id>.xml`` and stops
    at one it does not have (``VOCevaldet.m``: ``error('unrecognized image "%s"')``), where a detector's other
    outputs leave such predictions out with a note — a results file of other images is of another image set."""
    unknown = [p for p in np.flatnonzero(image_index < 0).tolist() if preds.image_names[p] not in elsewhere]
    if not unknown:
        return
    p = min(unknown, key=lambda q: (int(preds.labels[q]), int(preds.lines[q])))  # the first in file order
    _refuse_two_identifiers(preds, gt, image_index, p)
    others = len({preds.image_names[q] for q in unknown}) - 1
    matched = len({preds.image_names[q] for q in np.flatnonzero(image_index >= 0).tolist()})
    raise PredictionError(
        f"{preds.where(p)}: image {preds.image_names[p]!r} is no image of the ground truth {gt.source} "
        f"({count(len(gt.images), 'image')}" +
        (f", named like {_examples([repr(im.file_name) for im in gt.images], 2)})" if gt.images else ")") +
        (f"; no identifier of {preds.source} is one" if not matched else
         f"; nor {'is' if others == 1 else 'are'} {count(others, 'other identifier')} of {preds.source}" if others
         else "") +
        ": a VOC results line names its image by the identifier of its annotation (Annotations/<id>.xml), and the "
        "devkit stops at one it does not have ('unrecognized image'): evaluate against the ground truth of the image "
        "set the results are of")


def _refuse_two_identifiers(preds: Predictions, gt: Dataset, image_index: np.ndarray, p: int) -> None:
    """VOC results: the identifier of prediction ``p`` is no ground-truth image because another identifier of the
    same image (``2008_000123.jpg`` beside ``2008_000123``) fits it better and took it (:func:`match_images`): say
    so, naming both lines, rather than call an image of the ground truth none of it (trial 48)."""
    name = preds.image_names[p]
    try:
        found = ImageNameIndex([im.file_name for im in gt.images]).match(name)
    except AmbiguousImageName:
        return
    if found is None:
        return
    g = found[0]
    taken = np.flatnonzero(image_index == g).tolist()
    if not taken:
        return
    q = min(taken, key=lambda k: (int(preds.labels[k]), int(preds.lines[k])))
    raise PredictionError(
        f"{preds.where(p)}: image {name!r} and {preds.image_names[q]!r} ({preds.where(q)}) both name the ground-truth "
        f"image {gt.images[g].file_name!r}: a VOC results line names its image by the identifier of its annotation "
        f"(Annotations/<id>.xml), one name for one image, as the devkit, which knows no other, reads it: write "
        f"{Path(gt.images[g].file_name).stem!r} on every line of that image")


def _classes_without_file(preds: Predictions, gt: Dataset, known: frozenset[int],
                          only_classes: Collection[int] | None = None) -> list[str]:
    """VOC results: a note naming the ground-truth classes with objects to find (neither difficult nor crowd) that no
    results file is of — a single file given, or a folder without some classes' files. They are scored as a class
    without detections (AP 0); ``--model-classes-only`` leaves them out: with it (``only_classes``, the classes
    scored) only those it scores are named."""
    positives = np.zeros(len(gt.classes), dtype=np.int64)
    for im in gt.images:
        np.add.at(positives, im.labels[im.counted].astype(np.int64), 1)
    missing = [c.name for k, c in enumerate(gt.classes) if positives[k] and k not in known
               and (only_classes is None or k in only_classes)]
    if not missing:
        return []
    one = len(missing) == 1
    return [f"{preds.source}: no results file for {count(len(missing), 'class', 'classes')} of the ground truth "
            f"{gt.source} that {'has' if one else 'have'} objects ({_examples(missing, 8)}): "
            f"{'it scores' if one else 'each scores'} AP 0, as a class without detections" +
            ("" if only_classes is not None else f" (--model-classes-only leaves {'it' if one else 'them'} out)")]


def _check_images_run(preds: Predictions, gt: Dataset, image_index: np.ndarray,
                      elsewhere: Collection[str] = frozenset(), only_classes: Collection[int] | None = None
                      ) -> list[str]:
    """What the list of the images a detector ran on (``listed_images``: a ``boxes.json``'s ``images``, with their
    sizes; an ILSVRC submission's evaluation list) tells against ``gt``.

    Raises :class:`PredictionError` when one of them was not the size the ground truth gives its image of that name
    (ground truth without a size, 0, is not checked): its boxes are in other pixels (a resized copy, another image
    of the same name) and would be scored at the wrong scale. Returns a note when ground-truth images are not among
    them: their objects count as missed (the devkit and pycocotools evaluate every ground-truth image). COCO
    results list no images but those with results (their ground-truth images: ``image_index``, -1 for none): the
    note then names the ground-truth images without any, which count as missed if the detector never ran on them."""
    if not preds.listed_images:
        if preds.format != "coco_results" or not len(preds):
            return []
        run = set(image_index[image_index >= 0].tolist())
        missing = [im.file_name for i, im in enumerate(gt.images) if i not in run]
        objects = _objects_to_find(gt, run, only_classes)
        if not run or not objects:
            return []
        one = len(missing) == 1
        return [(f"{count(len(missing), 'image')} of the ground truth's {len(gt.images)} {'has' if one else 'have'} "
                 f"no result in {preds.source} (e.g. {_examples(missing)}; COCO results name only the images with "
                 f"detections): if the detector did not run on {'it' if one else 'them'}, {'its' if one else 'their'} "
                 f"{_objects(objects, only_classes)} as missed; evaluate against ground truth of the images run, or "
                 f"run on {'it' if one else 'these'} too")]
    index = ImageNameIndex([im.file_name for im in gt.images])
    run, sized = set(), []
    for name in preds.listed_images:
        if name in elsewhere:
            continue
        try:
            found = index.match(name)
        except AmbiguousImageName:
            continue
        if found is None:
            continue
        run.add(found[0])
        sized.append((name, preds.image_sizes.get(name), gt.images[found[0]]))
    wrong, hint = wrong_sizes(sized)
    if wrong:
        one = len(wrong) == 1
        raise PredictionError(
            f"{preds.source}: {len(wrong)} of its images {'is' if one else 'are'} not the size the ground truth "
            f"{gt.source} gives {'its image' if one else 'their images'} of the same name, so the boxes are in other "
            f"pixels: {_examples(wrong)}. Evaluate detections of the ground truth's own image files (a resized copy "
            "needs ground truth of its own)" + hint)
    missing = [im.file_name for i, im in enumerate(gt.images) if i not in run]
    objects = _objects_to_find(gt, run, only_classes)
    if not run or not objects:  # every ground-truth image run, or those left out have nothing to find
        return []
    one = len(missing) == 1
    return [(f"{count(len(missing), 'image')} of the ground truth's {len(gt.images)} {'is' if one else 'are'} not among "
             f"the images {preds.source} ran on (e.g. {_examples(missing)}): {'its' if one else 'their'} "
             f"{_objects(objects, only_classes)} as missed; evaluate against ground truth of the images run, or "
             f"run on {'it' if one else 'these'} too")]


def _objects_to_find(gt: Dataset, run: Collection[int], only_classes: Collection[int] | None) -> int:
    """How many objects the ground-truth images not in ``run`` hold that an evaluation scores: neither difficult nor
    crowd, and of ``only_classes`` where given (``--model-classes-only``)."""
    scored = None if only_classes is None else np.fromiter(only_classes, dtype=np.int64)
    return sum(int(im.counted.sum() if scored is None else (im.counted & np.isin(im.labels, scored)).sum())
               for i, im in enumerate(gt.images) if i not in run)


def _objects(n: int, only_classes: Collection[int] | None) -> str:
    """``n`` objects that count as missed, in words, saying which were counted (:func:`_objects_to_find`)."""
    which = (" of the classes scored (difficult and crowd ones aside; --model-classes-only)" if only_classes is not None
             else " (difficult and crowd ones aside)")
    return f"{n} object{'' if n == 1 else 's'}{which} count{'s' if n == 1 else ''}"


def _id_type_hint(ids, gt: Dataset) -> str | None:
    """When one of ``ids`` (image ids of predictions that name no ground-truth image) has the digits of a ground-truth
    id of the other JSON type — ``'1'`` against ``1`` —, a sentence saying so, else None: ids are compared with their
    type, as pycocotools compares them (its ``loadRes`` refuses such a file)."""
    theirs = {str(im.image_id): im.image_id for im in gt.images}
    for mine in dict.fromkeys(ids):
        if str(mine) in theirs and isinstance(mine, str) != isinstance(theirs[str(mine)], str):
            def kind(v):
                return "a string" if isinstance(v, str) else "a number"
            return (f"image_id {mine!r} is {kind(mine)} where the ground truth's id {theirs[str(mine)]!r} is "
                    f"{kind(theirs[str(mine)])}: ids are compared with their type, as pycocotools does — write them "
                    "as the ground truth does")
    return None


def _examples(items, k: int = 3) -> str:
    """The first ``k`` of ``items`` (strings, shown as they are), then how many more: ``'a.jpg', 'b.jpg', 'c.jpg'
    and 9 more``."""
    items = list(items)
    return ", ".join(items[:k]) + (f" and {len(items) - k} more" if len(items) > k else "")


def _refuse_nothing_matched(preds: Predictions, gt: Dataset, some_image_matched: bool, known: frozenset[int],
                            elsewhere: Collection[str] = frozenset()) -> None:
    """Raise :class:`PredictionError` when nothing of ``preds`` can be evaluated against ``gt`` — an evaluation that
    would print mAP 0 for a mistake (the wrong ground truth, images named otherwise, another model's classes):

    - none of its images is a ground-truth image (``some_image_matched`` False for the images with predictions, and
      for ``boxes.json`` none of ``listed_images`` either, the images without) while it has some — an image of
      ``elsewhere``, another ground truth's (:func:`better_elsewhere`), is none of this one's (trial 28: a dataset
      none of whose images was run scored 0 without a word when the file held another dataset's image of a stem
      of its own);
    - it has predictions but none of its classes (its predicted classes; ``boxes.json``: its model's) is a
      ground-truth class (``known``: the ground-truth classes among them).

    The message says how many predictions there are, why they are left out, and shows a few names of each side."""
    n = len(preds)
    if not some_image_matched and (n or preds.listed_images):
        index = ImageNameIndex([im.file_name for im in gt.images])

        def fits(name: str) -> bool:
            if name in elsewhere:
                return False
            try:
                return index.match(name) is not None
            except AmbiguousImageName:
                return True  # it fits two: it is there (the matching of predictions refuses it where it matters)

        if not any(fits(name) for name in preds.listed_images):
            by_id = not preds.listed_images and all(name is None for name in preds.image_names)
            if by_id:
                ids = list(dict.fromkeys(repr(i) for i in preds.image_ids))
                which = f"its image id {ids[0]} is not" if len(ids) == 1 else \
                    f"none of its {len(ids)} ids ({_examples(ids)}) is"
                why = (f"its images are given by image_id only (no 'file_name'), and {which} an image id of the "
                       f"ground truth {gt.source} (its ids: "
                       f"{_examples([repr(im.image_id) for im in gt.images])})")
                hint = _id_type_hint(preds.image_ids, gt)
                why += f"; {hint}" if hint else ""
            else:
                names = list(dict.fromkeys([*preds.listed_images, *(
                    name if name is not None else f"image_id {image_id!r}"
                    for image_id, name in zip(preds.image_ids, preds.image_names))]))
                which = f"its image {names[0]!r} is not" if len(names) == 1 else \
                    f"none of its {len(names)} images ({_examples(repr(v) for v in names)}) is"
                why = (f"{which} an image of the ground truth {gt.source} ({count(len(gt.images), 'image')}" +
                       (f", named like {_examples([repr(im.file_name) for im in gt.images], 2)}); " if gt.images
                        else "); ") +
                       "images are matched by file name: the trailing path components, the last without its "
                       "extension")
                theirs = [repr(name) for name in dict.fromkeys(preds.listed_images) if name in elsewhere]
                if theirs:
                    why += (f" ({_examples(theirs)} {'fits' if len(theirs) == 1 else 'fit'} an image of another "
                            "--gt better, and goes there)")
            raise PredictionError(f"{preds.source}: nothing to evaluate: " +
                                  (_all_left_out(n) if n else "") + why)
    if n and not known:
        classes = [repr(_category_name(preds, j)) for j in range(len(preds.categories))]
        which = f"its class {classes[0]} is not" if len(classes) == 1 else \
            f"none of its {len(classes)} classes ({_examples(classes)}) is"
        raise PredictionError(
            f"{preds.source}: nothing to evaluate: {_all_left_out(n)}{which} a class of the ground truth {gt.source} "
            f"({count(len(gt.classes), 'class', 'classes')}: {_examples([repr(c.name) for c in gt.classes])}); "
            "classes are matched by ILSVRC WordNet id where both sides have one, else by name")


def _all_left_out(n: int) -> str:
    return "its one prediction is left out: " if n == 1 else f"all {n} predictions are left out: "


def _category_name(preds: Predictions, j: int) -> str:
    cat = preds.categories[j]
    if preds.by_source_id and cat.source_id in ilsvrc_by_det_id():
        return ilsvrc_by_det_id()[cat.source_id].name
    return cat.name


def read_blacklist(path, gt: Dataset, *, image_list=None, notes: list[str] | None = None) -> set[tuple[int, int]]:
    """ILSVRC blacklist (``<image index> <wnid>`` lines) → ``{(image index in gt, class index in gt)}``.

    Image indices are those of ``image_list`` where given (its names matched to the ground truth's images as
    predictions are: :mod:`detector.data.names`), else the ground truth's image ids — only where it has ids of its
    own (COCO JSON): a blacklist against ground truth whose ids are mere positions (VOC, Penn-Fudan, ILSVRC XML
    without a list) is refused, as ILSVRC submission text is, since its indices would fall on whichever image sorts
    there. Pairs naming an image or class absent from the ground truth are skipped (they cannot affect the
    result; the devkit takes them too) — and said in a note appended to ``notes`` where given, which names the
    image indices and wnids that matched nothing (the first few)."""
    path = Path(path)
    if image_list is None and gt.id_source == "position":
        raise PredictionError(
            f"{path}: an ILSVRC blacklist numbers images by an evaluation list, and the ground truth {gt.source} "
            f"({gt.format}) has no image ids of its own, only positions: pass --image-list (the list the blacklist's "
            "indices are of, e.g. the devkit's val.txt for ILSVRC2014_det_validation_blacklist.txt)")
    try:
        lines = decode_text(path.read_bytes()).splitlines()
    except OSError as e:
        raise PredictionError(f"{path}: cannot read blacklist: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise PredictionError(f"{path}: {not_text(e)}, not a blacklist") from None
    if image_list is not None:
        names_index = ImageNameIndex([im.file_name for im in gt.images])
        index_to_image = {}
        try:
            listed = read_image_list(image_list)
        except DatasetError as e:
            raise PredictionError(str(e)) from None
        for name, idx in listed:
            try:
                found = names_index.match(name)
            except AmbiguousImageName as e:
                raise PredictionError(f"{image_list}: {e} (in {gt.source})") from None
            if found is not None:
                index_to_image[idx] = found[0]
    else:
        index_to_image = {im.image_id: i for i, im in enumerate(gt.images)}
    class_by_key = {c.key: i for i, c in enumerate(gt.classes)}
    pairs = []
    for n, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise PredictionError(f"{path}:{n}: expected '<image index> <wnid>', got {line.strip()!r}")
        try:
            pairs.append((int(parts[0]), parts[1]))
        except ValueError:
            raise PredictionError(f"{path}:{n}: image index is not an integer: {parts[0]!r}") from None
        if not re.fullmatch(r"n\d{8}", parts[1]) and parts[1] not in class_by_key:
            # trial 34: a class named by its name or det_id ('person', '124') matched no class and the pair was
            # skipped without a word — a blacklist in that form left nothing out
            raise PredictionError(f"{path}:{n}: {parts[1]!r} is not a WordNet id (n and 8 digits, e.g. n00007846 for "
                                  "person): an ILSVRC blacklist names each class by its wnid")
    if image_list is not None and pairs and listed and max(i for i, _ in pairs) > max(i for _, i in listed):
        # trial 33: the devkit's blacklist numbers val.txt (20,121 images); read by ilsvrc13_val2.txt's numbers, 16
        # of its pairs fell on val2 images that have the class, whose objects were silently left out
        top = max(i for i, _ in pairs)
        raise PredictionError(
            f"{path}: its image indices run to {top}, beyond the {count(len(listed), 'image')} of --image-list "
            f"{image_list} (indices up to {max(i for _, i in listed)}): it numbers another list, and read by this "
            "one its pairs would fall on other images. Give the list it numbers (the devkit's blacklist numbers "
            "val.txt, and names none of val2's images: evaluate val2 without it)")
    if notes is not None:
        notes += _blacklist_notes(path, gt, pairs, index_to_image, class_by_key, image_list)
    return {(index_to_image[i], class_by_key[w]) for i, w in pairs if i in index_to_image and w in class_by_key}


def _blacklist_notes(path: Path, gt: Dataset, pairs, index_to_image, class_by_key, image_list) -> list[str]:
    """What of a blacklist's (index, wnid) ``pairs`` matched no image or no class of ``gt`` (a blacklist of another
    image list, or of wnids that are no class of the ground truth, left nothing out without a word)."""
    idle = [(i, w) for i, w in pairs if i not in index_to_image or w not in class_by_key]
    if not idle:
        return []
    no_image = sorted({i for i, _ in idle if i not in index_to_image})
    unknown = list(dict.fromkeys(w for _, w in idle if w not in class_by_key))
    why = []
    if no_image:
        by = f"--image-list {image_list}" if image_list is not None else "its own image ids"
        why.append(f"{'index' if len(no_image) == 1 else 'indices'} {_examples([str(i) for i in no_image])} "
                   f"{'is' if len(no_image) == 1 else 'are'} no image of it (by {by})")
    if unknown:
        why.append(f"{count(len(unknown), 'wnid')} {'is' if len(unknown) == 1 else 'are'} no class of it: "
                   f"{_examples(unknown, 5)}")
    one = len(idle) == 1
    head = (f"{len(idle)} of its {len(pairs)} lines" if len(idle) < len(pairs) else
            "its one line" if one else f"all {len(pairs)} of its lines")
    return [f"{path}: {head} match{'es' if one else ''} nothing in the ground truth {gt.source}, and leave"
            f"{'s' if one else ''} nothing out: {'; '.join(why)}"]
