"""Readers turning every annotation format our users bring into one :class:`~detector.data.dataset.Dataset`.

Formats (detected from the path by :func:`detect_format`, or named):

- ``coco``: a COCO instances JSON (``images``, ``annotations``, ``categories``; ``iscrowd`` kept), or a folder
  holding one (directly or in ``annotations/``);
- ``ilsvrc``: a folder of ILSVRC XML files (0-based inclusive pixels), optionally restricted and numbered by an
  evaluation list (``name index`` lines, e.g. ``ilsvrc13_val2.txt``);
- ``voc``: PASCAL VOC XML (1-based inclusive, ``difficult``), either a VOC root (``Annotations/``,
  ``JPEGImages/``, ``ImageSets/Main/*.txt``), an ``ImageSets/Main/*.txt`` list, or a plain folder of XML files;
- ``pennfudan``: Penn-Fudan "PASCAL Annotation Version 1.00" text files (1-based inclusive; pedestrians = person);
- ``yolo``: YOLO (Ultralytics / Darknet) text labels, normalised ``class cx cy w h``: a dataset YAML (one split), a
  folder of images or labels, or a split's image list, read by :mod:`detector.data.yolo`;
- ``labelme``: LabelMe JSON (the ``labelme`` tool's file per image: ``shapes`` with ``points``, ``imagePath``): a
  folder of them or one, read by :mod:`detector.data.labelme`.

Files are read as their formats allow: XML in the encoding its declaration names (XML 1.0 §4.3.3; any codec
Python knows, ``gb2312`` included, which the expat parser alone refuses), JSON and text as UTF-8 or UTF-8/16/32
with a byte-order mark (RFC 8259 §8.1). Boxes are ``float64`` as the file gives them (:mod:`detector.data.boxes`).

With ``strict=True`` (the default) broken input — a file that cannot be read (permissions, a folder where a file
should be, bytes that are not text in its encoding), unreadable JSON/XML, missing fields, non-numeric, non-finite or
inverted boxes, a COCO ``category_id`` that is not among the file's categories — raises :class:`DatasetError`
naming the file and where in it, as the user finds it there: the line, the COCO ``annotations[i]`` with its
``bbox`` as written, the XML ``<object>`` (0-based) with its name and ``<bndbox>`` as written. With
``strict=False`` (``detect inspect``) it is recorded in :attr:`Dataset.problems` and reading goes on. Suspicious
but usable input (zero-area boxes, boxes outside the image, class names with no known meaning, a VOC
``<filename>`` other than the annotation file's name) is always recorded, never fatal.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import unicodedata
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from PIL import UnidentifiedImageError

from .boxes_json import other_json_kind
from .boxes import box_in_float_range, ilsvrc_to_xyxy, voc_to_xyxy, xywh_to_xyxy
from .dataset import ERROR, WARNING, Dataset, DatasetError, ImageAnnotation, Problem
from .images import image_size
from .io import (TOO_DEEP, binary_kind, count, decode_text, missing_fields, model_files_in, not_text, read_text,
                 text_head)
from .names import IMAGE_SUFFIXES, image_stem, name_parts
from .vocab import VOC_CLASSES, Category, category_for_name, ilsvrc_categories, is_wnid

__all__ = ["FORMATS", "detect_format", "read_dataset", "read_coco", "read_ilsvrc", "read_voc", "read_pennfudan",
           "read_image_list", "load_coco_json", "parse_xml_file", "voc_category", "IMAGE_EXTENSIONS"]

logger = logging.getLogger(__name__)

# the suffixes tried for a name without one (ILSVRC gives stems), in this order: the image suffixes every input
# takes (detector.data.names), as written in lower and upper case (trial 34: without .tif/.tiff/.gif here, a COCO
# file_name 'a.tif' beside its annotations was "image file 'a.tif' not found" and left out of training)
IMAGE_EXTENSIONS = IMAGE_SUFFIXES + tuple(s.upper() for s in IMAGE_SUFFIXES)
PENNFUDAN_HEADER = "# Compatible with PASCAL Annotation Version 1.00"


class _Problems:
    """Collects problems; raises the first error in strict mode."""

    def __init__(self, strict: bool):
        self.strict = strict
        self.items: list[Problem] = []

    def add(self, file, kind, message, *, severity=ERROR, line=None, obj=None) -> None:
        p = Problem(file=str(file), kind=kind, message=message, severity=severity, line=line, obj=obj)
        if self.strict and severity == ERROR:
            raise DatasetError(p)
        self.items.append(p)


class _ImageLocator:
    """Finds image files by name among candidate folders (each folder listed once, then set look-ups)."""

    def __init__(self, folders):
        self.folders: list[Path] = []
        for f in folders:
            if f is not None and Path(f).is_dir() and Path(f) not in self.folders:
                self.folders.append(Path(f))
        self._listing: dict[Path, dict[str, str]] = {}

    def _names(self, folder: Path) -> dict[str, str]:
        if folder not in self._listing:
            try:  # NFC name -> the name on disk (macOS writes NFD; annotation tools mostly NFC)
                self._listing[folder] = {unicodedata.normalize("NFC", e.name): e.name for e in os.scandir(folder)
                                         if not e.is_dir()}
            except OSError:
                self._listing[folder] = {}
        return self._listing[folder]

    def find(self, name: str) -> Path | None:
        """``name`` may carry a suffix (``a.jpg``) or not (ILSVRC gives stems), and folders
        (``PennFudanPed/PNGImages/x.png``: tried as given, then by its last part)."""
        has_suffix = Path(name).suffix.lower() in IMAGE_SUFFIXES
        base = unicodedata.normalize("NFC", Path(name).name)
        for folder in self.folders:
            if "/" in name and (folder / name).is_file():
                return folder / name
            names = self._names(folder)
            for ext in ("",) if has_suffix else IMAGE_EXTENSIONS:
                if base + ext in names:
                    return folder / names[base + ext]
        return None


def _boxes_record(image_id, file_name, path, width, height, boxes, labels, difficult, crowd, source):
    return ImageAnnotation(
        image_id=image_id if isinstance(image_id, str) else int(image_id),
        file_name=str(file_name),
        path=path,
        width=int(width),
        height=int(height),
        boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        labels=np.asarray(labels, dtype=np.int64),
        difficult=np.asarray(difficult, dtype=bool),
        iscrowd=np.asarray(crowd, dtype=bool),
        source=str(source),
    )


def _check_box(problems: _Problems, file, box: str, raw, xyxy, width, height, *, inverted: str | None, obj=None,
               line=None) -> bool:
    """Validate one box; False → drop it. ``box`` says where it is and how the file writes it, for the messages
    (``annotations[3] (id 5): bbox [10, 10, -3, 4]``); ``raw``: its numbers as the file states them; ``xyxy``: the
    box converted; ``inverted``: what makes it inverted in the file's own terms (``"a negative width"``, ``"xmax <
    xmin"``), None when it is not. A non-finite number or an inverted box is an error (the box is dropped); zero
    area or a box outside the image a warning (the box is kept)."""
    if not all(math.isfinite(v) for v in raw):
        problems.add(file, "bad_number", f"{box} has a non-finite number", obj=obj, line=line)
        return False
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    if not box_in_float_range(x1, y1, x2 - x1, y2 - y1):  # x + w or the area beyond float64's range (1e308)
        problems.add(file, "bad_number", f"{box} has a number too large for a box", obj=obj, line=line)
        return False
    if inverted:
        problems.add(file, "inverted_box", f"{box} has {inverted}", obj=obj, line=line)
        return False
    x1, y1, x2, y2 = xyxy
    if x2 <= x1 or y2 <= y1:
        problems.add(file, "zero_area", f"{box} has zero area", severity=WARNING, obj=obj, line=line)
    if width > 0 and height > 0 and (x1 < 0 or y1 < 0 or x2 > width + 1e-3 or y2 > height + 1e-3):
        beyond = x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height  # no part of it in the image
        problems.add(file, "outside_image", f"{box} {'lies wholly' if beyond else 'extends'} outside the "
                     f"{width:g}x{height:g} image", severity=WARNING, obj=obj, line=line)
    return True


_FLAG_WORDS = {"true": True, "yes": True, "false": False, "no": False}


def _xml_flag(problems: _Problems, path, ob, tag: str, name: str, k: int) -> bool:
    """An object's 0/1 flag such as VOC's ``<difficult>``: absent or empty → False; ``0``/``1`` as any number
    (``0.0``) or ``true``/``false`` (``yes``/``no``), any case, as the VOC devkit's ``str2num`` reads them. Anything
    else (``2``, ``-1``, ``nan``, a word) is read as set, with a warning."""
    text = _xml_text(ob, tag)
    if text is None or not text.strip():
        return False
    word = text.strip().lower()
    if word in _FLAG_WORDS:
        return _FLAG_WORDS[word]
    try:
        value = float(word)
    except ValueError:
        value = None
    if value in (0.0, 1.0):
        return value == 1.0
    problems.add(path, "malformed", f"object {name!r}: <{tag}>{text}</{tag}> is not 0 or 1 (read as 1)",
                 severity=WARNING, obj=k)
    return True


def _inverted_xyxy(raw) -> str | None:
    """What makes an ``(xmin, ymin, xmax, ymax)`` box as a file writes it inverted, or None."""
    wrong = [f"{hi} < {lo}" for lo, hi, a, b in (("xmin", "xmax", raw[0], raw[2]), ("ymin", "ymax", raw[1], raw[3]))
             if b < a]
    return " and ".join(wrong) or None


def _class_index(classes: list[Category], index: dict[str, int], cat: Category) -> int:
    if cat.key not in index:
        index[cat.key] = len(classes)
        classes.append(cat)
    return index[cat.key]


# --------------------------------------------------------------------------------------------------------- COCO
def _find_coco_json(path: Path) -> Path:
    if path.is_file():
        return path
    for folder in (path, path / "annotations"):
        found = _files(folder, ".json") if folder.is_dir() else []
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise DatasetError(Problem(str(folder), "ambiguous", f"several JSON files ({', '.join(p.name for p in found)}): name one"))
    raise DatasetError(Problem(str(path), "not_found", "no COCO JSON file found here"))


def load_coco_json(path) -> dict:
    """The COCO instances dict of the JSON file ``path`` as :func:`read_coco` reads it (UTF-8, or with a BOM).

    Raises :class:`DatasetError` naming the file (and line) when it cannot be read, is not JSON, or is not an
    object with ``images`` and ``categories`` lists."""
    problems = _Problems(strict=True)
    data = _load_coco_json(Path(path), problems)
    assert data is not None  # strict: problems raised
    return data


def _json_type(value) -> str:
    """The JSON name of a decoded value's type: object, array, string, number, true/false, null."""
    if isinstance(value, bool):
        return json.dumps(value)
    return {dict: "an object", list: "an array", str: "a string", type(None): "null"}.get(type(value), "a number")


def load_json(path: Path, problems: _Problems, what: str):
    """The decoded JSON of ``path`` (read as :func:`detector.data.io.read_text` reads text), or None with its
    problem recorded: unreadable, not text, empty or not valid JSON (line and column), each saying it is not
    ``what`` (``"a COCO instances file"``)."""
    try:
        text = read_text(path)
        return json.loads(text)
    except json.JSONDecodeError as e:
        if not text.strip():
            problems.add(path, "malformed", f"the file is empty: not {what}")
        else:
            problems.add(path, "malformed", f"not valid JSON: {e.msg} (column {e.colno})", line=e.lineno)
    except UnicodeDecodeError as e:
        problems.add(path, "malformed", f"{not_text(e)}, not {what} (JSON text)")
    except RecursionError:
        problems.add(path, "malformed", f"{TOO_DEEP}: not {what}")
    except OSError as e:
        problems.add(path, "unreadable", f"cannot read: {e.strerror or e}")
    return None


def _load_coco_json(path: Path, problems: _Problems) -> dict | None:
    data = load_json(path, problems, "a COCO instances file")
    if data is None:
        return None
    if (kind := other_json_kind(data, path, wanted="ground truth")) is not None:
        problems.add(path, "malformed", f"not a COCO instances file: {kind}")  # a file of ours (trial 63, fix63)
        return None
    wrong = [k for k in ("images", "categories") if isinstance(data, dict) and k in data and
             not isinstance(data[k], list)]
    if wrong:  # trial 30: an 'images' object was "expected … lists, got dict with keys […]", the field not named
        problems.add(path, "malformed", f"'{wrong[0]}' must be a list, got {_json_type(data[wrong[0]])}")
        return None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not isinstance(data.get("categories"), list):
        problems.add(path, "malformed", "not a COCO instances file: expected an object with 'images' and 'categories' "
                     f"lists, got {type(data).__name__}" + (f" with keys {sorted(data)[:6]}" if isinstance(data, dict)
                                                          else ""))
        return None
    if "annotations" in data and not isinstance(data["annotations"], list):
        problems.add(path, "malformed", f"'annotations' must be a list, got {_json_type(data['annotations'])}")
        return None
    return data


def _coco_image_id(value):
    """A COCO image id as the file has it: an integer (``3`` or ``3.0``) or a string (pycocotools takes both);
    None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def read_coco(path, *, images=None, strict: bool = True) -> Dataset:
    """Read a COCO instances JSON. ``bbox`` ``[x, y, w, h]`` becomes xyxy (float64, unrounded); ``iscrowd`` is kept
    (missing: 0); ``ignore: 1`` (as :func:`detector.data.coco.dataset_to_coco` marks a VOC ``difficult`` object)
    reads as ``difficult``. Image ids may be integers or strings (pycocotools accepts both), not a mix of the two.

    Category names are mapped onto the ILSVRC vocabulary (a ``wnid`` field, the COCO 80 table, the VOC 20 names, or
    an ILSVRC name);
    others stay their own classes. Image files are looked for in ``images``, next to the JSON, in ``images/``
    beside it or beside its folder.
    """
    path = _find_coco_json(Path(path))
    problems = _Problems(strict)
    data = _load_coco_json(path, problems)
    if data is None:
        return Dataset("coco", path, (), (), tuple(problems.items), id_source="file")

    classes: list[Category] = []
    class_index: dict[str, int] = {}
    cat_label: dict[int, int] = {}
    cat_first: dict = {}  # category id -> (its categories[] index, its name)
    cat_of_key: dict[str, tuple[int, dict]] = {}  # Category.key -> the first categories[] entry of that class
    rejected_cats: dict = {}  # id of a category reported malformed -> [its categories[] index, its boxes not read]
    for i, c in enumerate(data["categories"]):
        if (lack := missing_fields(c, "id", "name")) is not None:
            problems.add(path, "malformed", f"categories[{i}] {lack}")
            if isinstance(c, dict) and isinstance(c.get("id"), (int, str, float)):
                rejected_cats.setdefault(c["id"], [i, 0])
            continue
        if isinstance(c["id"], bool) or not isinstance(c["id"], (int, str, float)):  # true was category 1 (== 1)
            problems.add(path, "malformed", f"categories[{i}].id must be an integer, got {json.dumps(c['id'])}")
            continue
        if not isinstance(c["name"], str) or not c["name"].strip():  # null or 5 became a class "None" or "5"
            problems.add(path, "malformed", f"categories[{i}] (id {c['id']!r}).name must be a non-empty string, got "
                         f"{c['name']!r}")
            if isinstance(c.get("id"), (int, str, float)):
                rejected_cats.setdefault(c["id"], [i, 0])
            continue
        name = c["name"]
        if c["id"] in cat_first:  # pycocotools keeps the last one: every box of the first would change class
            j, first_name = cat_first[c["id"]]
            if first_name != name:
                problems.add(path, "malformed", f"categories[{i}]: duplicate category id {c['id']!r} "
                             f"({name!r}; categories[{j}] is {first_name!r} with that id)")
            continue  # the same category twice: harmless, kept once
        cat_first[c["id"]] = (i, name)
        mapped = category_for_name(str(c["wnid"])) if c.get("wnid") else None
        # then a VOC name: CVAT, Label Studio and Roboflow export a VOC-born dataset as COCO keeping 'aeroplane',
        # 'motorbike', 'tvmonitor' … (trial 50: its aeroplanes were a class of their own, AP 0 against airplane
        # detections), as the YOLO and LabelMe readers and COCO results map them
        mapped = mapped or category_for_name(name, "coco") or category_for_name(name, "voc")
        cat = Category(name, mapped.wnid if mapped else None, mapped.det_id if mapped else None, source_id=c["id"])
        if cat.key in class_index:  # two COCO categories onto one ILSVRC class would merge them: keep them apart
            j, first = cat_of_key[cat.key]
            problems.add(path, "malformed", f"categories[{i}] ({name!r}, id {c['id']!r}) is the class of "
                         f"categories[{j}] ({first['name']!r}, id {first['id']!r}): kept as a class of its own, "
                         "its objects scored apart from those of the other", severity=WARNING)
            cat = Category(name, source_id=c["id"])
        cat_of_key.setdefault(cat.key, (i, c))
        cat_label[c["id"]] = _class_index(classes, class_index, cat)

    # COCO's own layout: <root>/annotations/instances_<split>.json with the images in <root>/<split>/ (also
    # <root>/images/<split>/ and, as Roboflow exports, <root>/coco/<split>/)
    split = path.stem.split("_", 1)[1] if path.stem.startswith("instances_") else None
    split_dirs = [path.parent.parent / d / split for d in ("", "images", "coco")] if split else []
    locator = _ImageLocator([images, path.parent, path.parent / "images", *split_dirs, path.parent.parent / "images",
                             path.parent.parent])
    metas: dict = {}
    by_file_name: dict[str, int] = {}  # file_name as matched (name_parts) -> its images[] index
    first_id = None  # (type of the first image id, its images[] index)
    rejected_images: dict = {}  # id of an image reported malformed -> [its images[] index, its boxes not read]
    for i, im in enumerate(data["images"]):
        wrong = missing_fields(im, "id", "file_name")
        if wrong is None and (not isinstance(im["file_name"], str) or not im["file_name"].strip()):
            # 5 became "5" (user trial 24)
            wrong = f"(id {im['id']!r}).file_name must be a non-empty string, got {im['file_name']!r}"
        if wrong is not None:
            problems.add(path, "malformed", f"images[{i}] {wrong}")
            if isinstance(im, dict) and (rejected := _coco_image_id(im.get("id"))) is not None:
                rejected_images.setdefault(rejected, [i, 0])  # its boxes: one problem (below), not one each
            continue
        image_id = _coco_image_id(im["id"])
        if image_id is None:
            problems.add(path, "malformed", f"images[{i}].id must be an integer or a string, got {im['id']!r}")
            continue
        if first_id is None:
            first_id = (type(image_id), i)
        elif type(image_id) is not first_id[0]:  # pycocotools sorts the ids: 3 and "3" cannot be sorted together
            kind = {int: "an integer", str: "a string"}
            problems.add(path, "malformed", f"images[{i}].id {im['id']!r} is {kind[type(image_id)]} but "
                         f"images[{first_id[1]}].id is {kind[first_id[0]]}: image ids must be all integers or all "
                         "strings")
            continue
        if image_id in metas:
            problems.add(path, "malformed", f"images[{i}]: duplicate image id {im['id']!r}")
            continue
        file_key = "/".join(name_parts(str(im["file_name"])))  # "./a.jpg" is "a.jpg" (and NFC: name_parts)
        if file_key in by_file_name:  # predictions are matched by file name: they could not tell the two apart
            problems.add(path, "malformed", f"images[{i}] (id {im['id']!r}): duplicate file_name "
                         f"{im['file_name']!r} (images[{by_file_name[file_key]}] has it too)")
        by_file_name.setdefault(file_key, i)  # still read (inspect): its boxes are not "of an unknown image_id"
        w, h = im.get("width"), im.get("height")
        if not (_positive_finite(w) and _positive_finite(h)):
            # box evaluation needs no image size (pycocotools reads none): the image file tells it, as for VOC (whose
            # 0 x 0 is read so too); a width of Infinity or NaN (json reads both) was a traceback (user trial 24)
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (w, h))
            lacks = (f"has no usable width/height ({w!r} x {h!r}: not positive finite numbers)" if numeric
                     else "lacks a numeric width/height" if w is None and h is None
                     else f"lacks a numeric width/height ({w!r} x {h!r})")
            found = locator.find(str(im["file_name"]))
            measured = _measured_size(found) if found is not None else None
            if measured is None:
                problems.add(path, "malformed", f"images[{i}] ({im['file_name']}) {lacks}, and "
                             "no image file to measure")
                w, h = 0, 0
            else:
                w, h = measured
                problems.add(path, "malformed", f"images[{i}] ({im['file_name']}) {lacks}: "
                             f"the image file's ({w} x {h}) is used", severity=WARNING)
        metas[image_id] = (im, int(w), int(h), [], [], [], [])

    # repr: a string '124' is not 124 (trial 25: "category_id 124 is not among the file's categories (ids 124, …)")
    known_ids = ", ".join(repr(c) for c in list(cat_label)[:10]) + (", …" if len(cat_label) > 10 else "")
    ann_first: dict = {}  # annotation id → its first index
    for i, a in enumerate(data.get("annotations") or []):
        where = f"annotations[{i}]" + (f" (id {a['id']})" if isinstance(a, dict) and "id" in a else "")
        if isinstance(a, dict) and isinstance(a.get("id"), (int, str, float)) and not isinstance(a["id"], bool):
            if a["id"] in ann_first:  # pycocotools indexes annotations by id: it would score one box twice, the
                # other never (user trial), while the ILSVRC and VOC metrics kept both
                problems.add(path, "malformed", f"{where}: duplicate annotation id {a['id']!r} (also "
                             f"annotations[{ann_first[a['id']]}])")
                continue
            ann_first[a["id"]] = i
        if (lack := missing_fields(a, "image_id", "bbox")) is not None:
            problems.add(path, "malformed", f"{where} {lack}")
            continue
        ann_image_id = _coco_image_id(a["image_id"])
        meta = metas.get(ann_image_id) if ann_image_id is not None else None
        if meta is None and ann_image_id in rejected_images:
            rejected_images[ann_image_id][1] += 1  # one problem per image (below), not one per box
            continue
        if meta is None:
            problems.add(path, "malformed", f"{where} refers to unknown image_id {a['image_id']!r}")
            continue
        im, w, h, bxs, lbls, crowd, ignored = meta
        bbox = a["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4 and
                all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)):
            problems.add(path, "malformed", f"{where}: bbox must be 4 numbers [x, y, w, h], got {bbox!r}")
            continue
        if "category_id" not in a:
            problems.add(path, "malformed", f"{where} lacks 'category_id'")
            continue
        cid = a["category_id"]
        if isinstance(cid, (int, str, float)) and not isinstance(cid, bool) and cid not in cat_label and \
                cid in rejected_cats:
            rejected_cats[cid][1] += 1  # one problem per category (below), not one per box
            continue
        if isinstance(cid, bool) or not isinstance(cid, (int, str, float)) or cid not in cat_label:  # an error: the
            # box would be lost (true is no category id, though Python takes it for 1)
            shown = json.dumps(cid) if isinstance(cid, bool) else repr(cid)
            problems.add(path, "unknown_class", f"{where}: category_id {shown} is not among the file's categories "
                         + (f"(ids {known_ids})" if known_ids else "(it has none)"))
            continue
        iscrowd = a.get("iscrowd", 0)
        if iscrowd not in (0, 1, None):  # COCO: 0 or 1 (1.0, true and false are too; null: 0)
            problems.add(path, "malformed", f"{where}: iscrowd must be 0 or 1, got {iscrowd!r}")
            continue
        ignore = a.get("ignore", 0)  # what dataset_to_coco writes for a VOC difficult object (mmdetection's
        #                             CocoDataset leaves such an annotation out too): not an object to find
        if ignore not in (0, 1, None):
            problems.add(path, "malformed", f"{where}: ignore must be 0 or 1, got {ignore!r}")
            continue
        raw = [float(v) for v in bbox]
        xyxy = xywh_to_xyxy(raw)[0]
        negative = [k for k, v in (("width", raw[2]), ("height", raw[3])) if v < 0]
        if not _check_box(problems, path, f"{where}: bbox {json.dumps(bbox)}", raw, xyxy, w, h,
                          inverted=f"a negative {' and '.join(negative)}" if negative else None):
            continue
        bxs.append(xyxy)
        lbls.append(cat_label[cid])
        crowd.append(bool(iscrowd))
        ignored.append(bool(ignore) and not iscrowd)
    for iid, (i, lost) in rejected_images.items():
        if lost:
            problems.add(path, "malformed", f"{count(lost, 'annotation')} of image_id {iid!r} not read: images[{i}] "
                         "is malformed (above)")
    for cid, (i, lost) in rejected_cats.items():
        if lost:
            problems.add(path, "unknown_class", f"{lost} annotation{'s' if lost > 1 else ''} of category_id {cid!r} "
                         f"not read: categories[{i}] is malformed (above)")

    records = []
    for image_id, (im, w, h, bxs, lbls, crowd, ignored) in metas.items():
        records.append(_boxes_record(image_id, im["file_name"], locator.find(str(im["file_name"])), w, h, bxs, lbls,
                                     ignored, crowd, path))
    return Dataset("coco", path, tuple(classes), tuple(records), tuple(problems.items), id_source="file")


# ------------------------------------------------------------------------------------------------- XML (shared)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._:-]*)["']""")


class XmlEncodingError(ValueError):
    """An XML file whose declared encoding is unknown, or whose bytes are not text in it."""


def parse_xml_file(path) -> ET.Element:
    """The root element of the XML file ``path``, read in the encoding its declaration names (XML 1.0 §4.3.3).

    The expat parser reads UTF-8, UTF-16 and the single-byte codecs itself but refuses multi-byte ones
    (``gb2312``, ``shift_jis``, ``big5``: "multi-byte encodings are not supported"); those are decoded with
    Python's codec of that name and the text parsed. Raises ``OSError`` (cannot read), ``ET.ParseError`` (not
    well-formed; ``position`` has the line) or :class:`XmlEncodingError`."""
    with open(path, "rb") as f:
        data = f.read()
    return _without_namespaces(_parse_xml_bytes(data))


def _without_namespaces(root: ET.Element) -> ET.Element:
    """``<annotation xmlns="…">`` (some exporters write one): element names without their namespace, so that
    ``size``, ``object``, ``bndbox`` are found as in any other VOC or ILSVRC file."""
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            el.tag = el.tag.split("}", 1)[1]
    return root


def _parse_xml_bytes(data: bytes) -> ET.Element:
    try:
        return ET.fromstring(data)
    except (ValueError, LookupError) as e:  # multi-byte codec, or a name expat does not know
        m = _XML_ENCODING.match(data)
        if m is None:
            raise XmlEncodingError(f"cannot decode: {e}") from None
        encoding = m.group(1).decode("ascii")
        try:
            text = data.decode(encoding)
        except LookupError:
            raise XmlEncodingError(f"declares encoding {encoding!r}, which is not a known text encoding") from None
        except UnicodeDecodeError as u:
            raise XmlEncodingError(f"is not {encoding} text as it declares ({u.reason} at byte {u.start})") from None
        return ET.fromstring(text)


def _parse_xml(problems: _Problems, path: Path):
    """The root of a VOC / ILSVRC annotation file (namespaces stripped), or None with the problem recorded: not
    XML, not readable, or XML of something else — its root is not ``<annotation>`` (an HTML page saved under the
    name was read as an image without objects: user trial)."""
    try:
        root = parse_xml_file(path)
        if root.tag != "annotation":
            cvat = root.tag == "annotations" and (root.find("version") is not None or root.find("image") is not None
                                                  or root.find("track") is not None)
            problems.add(path, "malformed", f"not a VOC/ILSVRC annotation: its root element is <{root.tag}>, not "
                         "<annotation>" + (" — a CVAT for images/video XML, which detect does not read: export the "
                                           "task as 'COCO 1.0' or 'PASCAL VOC 1.1'" if cvat else ""))  # trial 50
            return None
        return root
    except ET.ParseError as e:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        kind = binary_kind(data[:32])
        if kind:  # trial 34: an image given with --format voc was "p.png:1: not valid XML"
            problems.add(path, "malformed", f"{kind}, not an XML annotation")
            return None
        line = e.position[0] if getattr(e, "position", None) else None
        m = _XML_ENCODING.match(data)
        declared = m.group(1).decode("ascii") if m else None
        if (declared or "utf-8").lower().replace("_", "-") in ("utf-8", "utf8") and b"\x00" not in data:  # text
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as u:  # trial 47: Latin-1 bytes were "not well-formed (invalid token)"
                said = "declares UTF-8 but is not UTF-8 text" if declared else "is not UTF-8 text"
                problems.add(path, "malformed", f"not readable XML: it {said} (byte {u.start}); an XML file is "
                             "UTF-8 unless its declaration names another encoding: save it as UTF-8, or declare the "
                             "one it is in (<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>)",
                             line=data[:u.start].count(b"\n") + 1)
                return None
        problems.add(path, "malformed", f"not valid XML: {e}", line=line)
    except XmlEncodingError as e:
        problems.add(path, "malformed", f"not readable XML: {e}")
    except OSError as e:
        problems.add(path, "unreadable", f"cannot read: {e.strerror or e}")
    return None


def _xml_text(node, tag):
    child = node.find(tag)
    return None if child is None or child.text is None else child.text.strip()


def _float_or_none(text: str | None) -> float | None:
    """``float(text)``, or None for no text or text that is no number."""
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _xml_number(problems, path, node, tag, *, obj=None, within=""):
    """The number in ``node``'s child ``tag``, or None (a problem recorded). ``within``: what ``node`` is, for the
    messages (``"'person' <bndbox>"``)."""
    text = _xml_text(node, tag)
    prefix = f"{within}: " if within else ""
    if text is None:
        problems.add(path, "malformed", f"{prefix}missing <{tag}>", obj=obj)
        return None
    try:
        return float(text)
    except ValueError:
        problems.add(path, "malformed", f"{prefix}<{tag}> is not a number: {text!r}", obj=obj)
        return None


def _image_of(problems, path: Path, root, locator, *, with_suffix: bool) -> tuple[str, Path | None]:
    """(file_name, image file) of a VOC or ILSVRC annotation. The image is the one named like the annotation file
    (``Annotations/site_01.xml`` ↔ ``JPEGImages/site_01.jpg``), as the devkits do (VOC: ``VOCopts.imgpath`` is
    ``JPEGImages/%s.jpg`` of the annotation id; ILSVRC: the evaluation list names both); ``<filename>``, which
    labelling tools leave stale after a renaming, is only a fallback when no image has the annotation's name.
    ``file_name`` is the image's name (VOC; the annotation id + the tag's or the found file's extension, ``.jpg``
    by default) or the id alone (ILSVRC, whose names have no extension)."""
    ident = path.stem
    tag = _xml_text(root, "filename")
    tag_name = name_parts(tag)[-1] if tag and name_parts(tag) else None
    found = locator.find(ident)
    by_tag = False
    if found is None and tag_name and image_stem(tag_name) != ident:
        # exactly as named, else by its stem (images converted to another format; trial 53: a copy's stale
        # <filename> then named no image, and the copy became an image of its own)
        found = locator.find(tag_name) or locator.find(image_stem(tag_name))
        by_tag = found is not None
    if tag_name and image_stem(tag_name) != ident:
        problems.add(path, "filename_mismatch",
                     f"<filename> is {tag!r} but the annotation file is {path.name}: " +
                     (f"no image named {ident} was found, so the image is {found.name} (by <filename>)" if by_tag
                      else f"the image is taken to be {ident} (by the annotation file's name, as the devkit does)"),
                     severity=WARNING)
    if not with_suffix:
        return (image_stem(found.name) if by_tag else ident), found
    if found is not None:
        return found.name, found
    suffix = Path(tag_name).suffix if tag_name and Path(tag_name).suffix.lower() in IMAGE_SUFFIXES else ".jpg"
    return ident + suffix, None


def _read_annotation_xml(problems, path, root, *, one_based, class_of, locator, image_id, with_suffix):
    """One VOC or ILSVRC XML → ImageAnnotation (or None when unusable). ``class_of(name, obj)`` → label or None;
    ``with_suffix``: the file name keeps the image's extension (VOC) or not (ILSVRC)."""
    file_name, image_path = _image_of(problems, path, root, locator, with_suffix=with_suffix)
    size = root.find("size")
    texts = {t: _xml_text(size, t) if size is not None else None for t in ("width", "height")}
    values = {t: _float_or_none(text) for t, text in texts.items()}
    infinite = [t for t, v in values.items() if v is not None and not math.isfinite(v)]
    for tag in infinite:  # float() reads "nan" and "inf" (user trial 24: a traceback)
        problems.add(path, "malformed", f"<size> <{tag}> is not a finite number: {texts[tag]!r}")
    if infinite:
        return None
    w, h = values["width"], values["height"]
    if w is None or h is None or w <= 0 or h <= 0:
        # LabelImg and other tools leave <size> out or empty, or write 0 x 0: the image file tells (as mmdetection
        # reads it); so does a size that is no number (trial 27: an empty <width> was an error, "missing <width>")
        said = "missing <size>" if size is None else "<size> " + " x ".join(
            f"(no <{t}>)" if text is None else text for t, text in texts.items())
        measured = _size_from_image(problems, path, said, image_path)
        if measured is None:
            return None
        w, h = measured
    boxes, labels, difficult = [], [], []
    for k, ob in enumerate(root.iter("object")):
        name = _xml_text(ob, "name")
        bb = ob.find("bndbox")
        if not name or bb is None:
            missing = [t for t, v in (("<name>", ob.find("name")), ("<bndbox>", bb)) if v is None]
            parts = [f"lacks {' and '.join(missing)}"] if missing else []
            if ob.find("name") is not None and not name:  # trial 32: <name></name> was "lacks <name>"
                parts.append("has an empty <name>")
            problems.add(path, "malformed", "object " + " and ".join(parts), obj=k)
            continue
        tags = ("xmin", "ymin", "xmax", "ymax")
        raw = [_xml_number(problems, path, bb, t, obj=k, within=f"{name!r} <bndbox>") for t in tags]
        if any(v is None for v in raw):
            continue
        xyxy = (voc_to_xyxy if one_based else ilsvrc_to_xyxy)(raw)[0]
        written = ", ".join(f"{t} {_xml_text(bb, t)}" for t in tags)  # as the file writes them: "xmin 20, ..."
        if not _check_box(problems, path, f"{name!r} <bndbox> ({written})", raw, xyxy, w, h,
                          inverted=_inverted_xyxy(raw), obj=k):
            continue
        label = class_of(name, k)
        if label is None:
            continue
        boxes.append(xyxy)
        labels.append(label)
        difficult.append(_xml_flag(problems, path, ob, "difficult", name, k))
    return _boxes_record(image_id, file_name, image_path, w, h, boxes, labels, difficult, [False] * len(boxes), path)


def _positive_finite(v) -> bool:
    """Whether ``v`` (a JSON value) is a usable image width or height: a number (not a bool), finite, above 0."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _size_from_image(problems: _Problems, file, said: str, image: Path | None) -> tuple[int, int] | None:
    """The size of ``image`` for an annotation ``file`` whose own size is unusable (``said``: what the file says, e.g.
    ``"missing <size>"``), with a warning saying so; None, with an error, when there is no image file or it cannot
    be read (VOC and Penn-Fudan; as mmdetection reads VOC files without a size)."""
    measured = _measured_size(image) if image is not None else None
    if measured is None:
        problems.add(file, "malformed", f"{said}, and no image file to measure" if image is None else
                     f"{said}, and its image {image.name} cannot be read to measure it")
        return None
    problems.add(file, "malformed", f"{said}: the size of {image.name} ({measured[0]} x {measured[1]}) is used",
                 severity=WARNING)
    return measured


def _measured_size(image: Path) -> tuple[int, int] | None:
    """:func:`detector.data.images.image_size`, or None when the file cannot be read."""
    try:
        return image_size(image)
    except (UnidentifiedImageError, OSError):
        return None


def _sniff_xml_is_ilsvrc(xml_path: Path) -> bool:
    try:
        root = parse_xml_file(xml_path)
    except (ET.ParseError, OSError, XmlEncodingError):
        return False
    text = " ".join(filter(None, [_xml_text(root, "folder"), _xml_text(root, "source/database")]))
    if "ILSVRC" in text.upper():
        return True
    names = [_xml_text(o, "name") or "" for o in root.iter("object")]
    return bool(names) and all(is_wnid(n) for n in names)


# ----------------------------------------------------------------------------------------------------- ILSVRC
def read_image_list(path) -> list[tuple[str, int]]:
    """An ILSVRC evaluation list: ``name index`` per line → ``[(name, index)]``.

    ``name`` is kept as written — folders too (``ILSVRC2013_train/n00007846/n00007846_103856``,
    ``cam_a/0001.jpg``) — less an image extension; it runs to the last blank of the line, so it may contain
    blanks. Raises :class:`DatasetError` naming the file (and line) when it cannot be read, a line is not
    ``name index``, or a name or an index is listed twice (an index must number one image, and an image have one
    index)."""
    path = Path(path)
    out = []
    line_of_name, line_of_index = {}, {}
    try:
        lines = read_text(path).splitlines()
    except OSError as e:
        raise DatasetError(Problem(str(path), "unreadable", f"cannot read image list: {e.strerror or e}")) from None
    except UnicodeDecodeError as e:
        raise DatasetError(Problem(str(path), "malformed", f"{not_text(e)}, not an image list")) from None
    for n, line in enumerate(lines, start=1):
        parts = line.strip().rsplit(None, 1)
        if not parts:
            continue
        if len(parts) != 2:
            raise DatasetError(Problem(str(path), "malformed", f"expected 'name index', got {line!r}", line=n))
        name = parts[0]
        suffix = Path(name).suffix
        if suffix.lower() in IMAGE_SUFFIXES:
            name = name[: -len(suffix)]
        try:
            index = int(parts[1])
        except ValueError:
            raise DatasetError(Problem(str(path), "malformed", f"index is not an integer: {parts[1]!r}", line=n)) from None
        if name in line_of_name:
            raise DatasetError(Problem(str(path), "malformed", f"image {name!r} is listed twice (also line "
                                       f"{line_of_name[name]})", line=n))
        if index in line_of_index:
            first_line, first_name = line_of_index[index]
            raise DatasetError(Problem(str(path), "malformed", f"index {index} numbers two images: {name!r} and "
                                       f"{first_name!r} (line {first_line})", line=n))
        line_of_name[name], line_of_index[index] = n, (n, name)
        out.append((name, index))
    if not out:  # trial 47: an empty list read as an empty dataset, 0 images and no problem
        raise DatasetError(Problem(str(path), "malformed", "no image listed (an image list has 'name index' lines)"))
    return out


def read_ilsvrc(path, *, image_list=None, images=None, strict: bool = True) -> Dataset:
    """Read ILSVRC DET XML (a folder of them, or one file). Classes: the 200 DET classes, in det_id order, then any
    unknown wnid as its own class (reported). With ``image_list`` only the listed images are read and each gets
    the list's index as ``image_id``; otherwise ids are 1.. in file-name order."""
    path = Path(path)
    problems = _Problems(strict)
    folder = path if path.is_dir() else path.parent
    files = _files(path, ".xml") if path.is_dir() else [path]
    if not files:
        problems.add(path, "missing_annotation", "no ILSVRC annotation files (*.xml) in this folder")
    ids = {f.stem: i for i, f in enumerate(files, start=1)}
    if image_list is not None:
        listed = [(image_stem(name), idx) for name, idx in read_image_list(image_list)]  # XML named by the last part
        by_stem = {f.stem: f for f in files}
        missing = [name for name, _ in listed if name not in by_stem]
        if missing:
            problems.add(image_list, "missing_annotation",
                         f"{len(missing)} of the {len(listed)} listed images {'has' if len(missing) == 1 else 'have'} "
                         f"no XML in {folder} (left out), "
                         f"e.g. {missing[0]}", severity=WARNING)
        files = [by_stem[name] for name, _ in listed if name in by_stem]
        ids = {name: idx for name, idx in listed}

    classes = list(ilsvrc_categories())
    class_index = {c.key: i for i, c in enumerate(classes)}

    def class_of(name, obj, file):
        if name in class_index:
            return class_index[name]
        problems.add(file, "unknown_class", f"class {name!r} is not one of the 200 ILSVRC DET classes "
                     "(kept as its own class)", severity=WARNING, obj=obj)
        return _class_index(classes, class_index, category_for_name(name) or Category(name))

    locator = _ImageLocator([images, folder, folder.parent / "images", folder.parent / "Data", folder.parent])
    records = []
    for f in files:
        root = _parse_xml(problems, f)
        if root is None:
            continue
        rec = _read_annotation_xml(problems, f, root, one_based=False,
                                   class_of=lambda name, obj, _f=f: class_of(name, obj, _f), locator=locator,
                                   image_id=ids[f.stem], with_suffix=False)
        if rec is not None:
            records.append(rec)
    return Dataset("ilsvrc", path, tuple(classes), tuple(records), tuple(problems.items),
                   id_source="image_list" if image_list is not None else "position")


# -------------------------------------------------------------------------------------------------------- VOC
def _voc_layout(path: Path, image_set: str | None):
    """→ (xml files, image folders, source). Accepts a VOC root, an ImageSets list file, or a folder of XML."""
    if path.is_file() and path.suffix.lower() == ".txt":  # ImageSets/Main/<set>.txt (VAL.TXT too: trial 34 — it was
        # told VOC by its folder, then parsed as XML)
        root = path.parents[2] if path.parent.name == "Main" else path.parent
        ids = []
        try:
            text = read_text(path)
        except OSError as e:
            raise DatasetError(Problem(str(path), "unreadable", f"cannot read image set: {e.strerror or e}")) from None
        except UnicodeDecodeError as e:
            raise DatasetError(Problem(str(path), "malformed", f"{not_text(e)}, not an image set")) from None
        first_line: dict[str, int] = {}
        for n, line in enumerate(text.splitlines(), start=1):
            parts = line.split()
            if parts and parts[0] in first_line:  # read twice, its image would fit two ground-truth images
                raise DatasetError(Problem(str(path), "duplicate_image", f"image {parts[0]!r} is listed twice (also "
                                           f"line {first_line[parts[0]]})", line=n))
            if parts:
                first_line[parts[0]] = n
            if parts:  # a class's <class>_<set>.txt lists every image of the set, its 1 / -1 / 0 label aside: the
                ids.append(parts[0])  # set's detection ground truth is all of them (trial 33: -1 lines were dropped)
        folder = root / "Annotations"
        # an XML file by its suffix in any case, as a folder's are found (trial 34: 2007_000027.XML was "listed in the
        # image set but the XML file does not exist"); <id>.xml first when both are there
        try:
            found = {f.stem: f for f in _files(folder, ".xml") if f.suffix != ".xml"} if folder.is_dir() else {}
        except OSError:  # an unreadable folder: each listed file is reported missing as before
            found = {}
        return [folder / f"{i}.xml" if (folder / f"{i}.xml").is_file() else found.get(i, folder / f"{i}.xml")
                for i in ids], [root / "JPEGImages", root / "images"]
    if path.is_file():
        return [path], [path.parent, path.parent.parent / "JPEGImages"]
    if (path / "Annotations").is_dir():
        if image_set is not None:
            return _voc_layout(path / "ImageSets" / "Main" / f"{image_set}.txt", None)
        # JPEGImages/ (the devkit's), else images/ (Label Studio's VOC export: Annotations/ and images/; trial 50)
        return _files(path / "Annotations", ".xml"), [path / "JPEGImages", path / "images", path]
    return _files(path, ".xml"), [path, path / "images", path.parent / "JPEGImages", path.parent / "images"]


def voc_category(name: str) -> Category | None:
    """The class a PASCAL VOC class name stands for, as :func:`read_voc` reads ``<object><name>``: one of the VOC 20
    or any name the vocabulary knows (``category_for_name(name, "voc")``: a VOC name in any case, an ILSVRC class
    name or WordNet id) keeps its name and takes its ILSVRC wnid and det_id where it has one (``person`` →
    n00007846; ``bottle`` has none and stays ``Category("bottle")``); None for any other name (the reader keeps it
    as its own class, with a warning). The devkit's results files name their class so too
    (``comp4_det_test_<class>.txt``, :mod:`eval.predictions`)."""
    m = category_for_name(name, "voc")
    if m is not None:
        return Category(name, m.wnid, m.det_id)
    return Category(name) if name in VOC_CLASSES else None


def read_voc(path, *, image_set: str | None = None, images=None, strict: bool = True) -> Dataset:
    """Read PASCAL VOC XML (1-based inclusive; ``difficult`` kept). Classes: the VOC 20 in their usual order, each
    mapped onto its ILSVRC wnid where one exists, then any other name as its own class (reported)."""
    path = Path(path)
    problems = _Problems(strict)
    files, folders = _voc_layout(path, image_set)
    if not files:
        problems.add(path, "missing_annotation", "no VOC annotation files (*.xml, or Annotations/*.xml) in this folder")
    classes = [voc_category(name) for name in VOC_CLASSES]
    by_name = {c.name: i for i, c in enumerate(classes)}
    class_index = {c.key: i for i, c in enumerate(classes)}
    locator = _ImageLocator([images, *folders])
    records = []
    for image_id, f in enumerate(files, start=1):
        if not f.exists():
            problems.add(f, "missing_annotation", "listed in the image set but the XML file does not exist")
            continue
        root = _parse_xml(problems, f)
        if root is None:
            continue

        def class_of(name, obj, _f=f):
            if name in by_name:
                return by_name[name]
            cat = voc_category(name)
            if cat is None:
                problems.add(_f, "unknown_class", f"class {name!r} is not a PASCAL VOC class (kept as its own class)",
                             severity=WARNING, obj=obj)
            idx = _class_index(classes, class_index, cat or Category(name))
            by_name[name] = idx
            return idx

        rec = _read_annotation_xml(problems, f, root, one_based=True, class_of=class_of, locator=locator,
                                   image_id=image_id, with_suffix=True)
        if rec is not None:
            records.append(rec)
    records = _one_annotation_an_image(problems, records, "its image")
    return Dataset("voc", path, tuple(classes), tuple(records), tuple(problems.items))


def _one_annotation_an_image(problems: _Problems, records: list, named_as: str) -> list:
    """``records`` (VOC, Penn-Fudan) of which two name one image — a copied annotation whose ``<filename>`` or 'Image
    filename' line still names its source's image, taken because no image has its own name: the one of the image's
    own name kept, whichever sorts first, else the first; the other an error, "``named_as`` 'x.jpg' is also that of
    …" (user trial 24: eval refused such a pair as ambiguous, training read the image twice; trial 52: a copy sorting
    first pushed the real Penn-Fudan file out, and VOC's were not flagged at all)."""
    first: dict[str, int] = {}
    keep = [True] * len(records)
    for k, rec in enumerate(records):
        key = os.path.normcase(str(rec.path)) if rec.path is not None else rec.file_name
        if key not in first:
            first[key] = k
            continue
        j = first[key]
        if Path(records[j].source).stem != image_stem(records[j].file_name) and \
                Path(rec.source).stem == image_stem(rec.file_name):  # the image's own annotation wins
            first[key], j, k = k, k, j
        keep[k] = False
        problems.add(records[k].source, "malformed", f"{named_as} {records[k].file_name!r} is also that of "
                     f"{Path(records[j].source).name}: two annotations of one image")
    return [r for r, kept in zip(records, keep) if kept]


# -------------------------------------------------------------------------------------------------- Penn-Fudan
_PF_FILENAME = re.compile(r'^Image filename\s*:\s*"(?P<name>[^"]+)"')
_PF_SIZE = re.compile(r"^Image size \(X x Y x C\)\s*:\s*(?P<w>\d+)\s*x\s*(?P<h>\d+)")
_PF_OBJECTS = re.compile(r"^Objects with ground truth\s*:\s*(?P<n>\d+)")
_PF_BOX = re.compile(r'^Bounding box for object (?P<k>\d+) "(?P<label>[^"]*)"')
_PF_COORDS = re.compile(r":\s*\(\s*(?P<x1>[-\d.]+)\s*,\s*(?P<y1>[-\d.]+)\s*\)\s*-\s*\(\s*(?P<x2>[-\d.]+)\s*,\s*(?P<y2>[-\d.]+)\s*\)\s*$")


def read_pennfudan(path, *, images=None, strict: bool = True) -> Dataset:
    """Read Penn-Fudan "PASCAL Annotation Version 1.00" text (1-based inclusive boxes). Accepts the database root
    (``Annotation/``, ``PNGImages/``), the annotation folder, or one file. Labels ``PASpersonWalking`` → person."""
    path = Path(path)
    problems = _Problems(strict)
    if path.is_file():
        files, root = [path], path.parent.parent
    else:
        ann = path / "Annotation" if (path / "Annotation").is_dir() else path
        files, root = _files(ann, ".txt"), ann.parent
        if not files:
            problems.add(path, "missing_annotation", "no Penn-Fudan annotation files (*.txt, or Annotation/*.txt) in "
                         "this folder")
    person = category_for_name("PASpersonWalking", "pennfudan")
    classes = [person]
    class_index = {person.key: 0}
    locator = _ImageLocator([images, root / "PNGImages", root, path if path.is_dir() else path.parent])
    records = []
    for image_id, f in enumerate(files, start=1):
        try:
            lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as e:
            problems.add(f, "unreadable", f"cannot read: {e.strerror or e}")
            continue
        name = size = declared = unreadable_size = None
        pending = []  # (match, coordinates match, raw, line number): checked once the image size is known
        ok, box_lines, read_any = True, 0, False
        for n, line in enumerate(lines, start=1):
            line = line.strip()
            if m := _PF_FILENAME.match(line):
                name, read_any = m["name"], True
            elif m := _PF_SIZE.match(line):
                size, read_any = (int(m["w"]), int(m["h"])), True
            elif line.startswith("Image size") and size is None:  # "-5 x 445", "abc x 344": there, but unreadable
                unreadable_size = line
            elif m := _PF_OBJECTS.match(line):
                declared = (int(m["n"]), n)
            elif m := _PF_BOX.match(line):
                box_lines += 1
                read_any = True
                c = _PF_COORDS.search(line)
                if c is None:
                    problems.add(f, "malformed", f"cannot read the box coordinates in {line!r}", line=n)
                    ok = False
                    continue
                try:
                    raw = [float(c[k]) for k in ("x1", "y1", "x2", "y2")]
                except ValueError:
                    problems.add(f, "malformed", f"box coordinates are not numbers in {line!r}", line=n)
                    ok = False
                    continue
                pending.append((m, c, raw, n))
        if not read_any:
            problems.add(f, "malformed", "no 'Image filename', 'Image size (X x Y x C)' or 'Bounding box' line: not a "
                         "Penn-Fudan annotation?")
            continue
        named = Path(name).name if name else None
        name, mismatch = _pennfudan_image_name(f, named, locator)
        if size is None or size[0] <= 0 or size[1] <= 0:
            # as VOC's missing <size> or 0 x 0 (user trial 24: "Image size 0 x 0" was taken silently): the image tells
            said = (f"{unreadable_size!r} is not a size 'W x H'" if size is None and unreadable_size else
                    "no 'Image size (X x Y x C)' line" if size is None else
                    f"'Image size (X x Y x C)' is {size[0]} x {size[1]}")
            size = _size_from_image(problems, f, said, locator.find(name))
            if size is None:
                continue
        boxes, labels = [], []
        for m, c, raw, n in pending:
            xyxy = voc_to_xyxy(raw)[0]
            written = f"({c['x1']}, {c['y1']}) - ({c['x2']}, {c['y2']})"  # as the line writes it
            if not _check_box(problems, f, f"object {m['k']} {m['label']!r} box {written}", raw, xyxy, size[0],
                              size[1], inverted=_inverted_xyxy(raw), line=n):
                continue
            label = m["label"]
            cat = category_for_name(label, "pennfudan")
            if cat is None:
                problems.add(f, "unknown_class", f"label {label!r} is not a known class (kept as its own class)",
                             severity=WARNING, line=n)
                cat = Category(label)
            boxes.append(xyxy)
            labels.append(_class_index(classes, class_index, cat))
        if declared is not None and declared[0] != box_lines:  # a box lost in editing, or one too many
            problems.add(f, "malformed", f"'Objects with ground truth : {declared[0]}' but "
                         f"{count(box_lines, 'Bounding box line')} {'follows' if box_lines == 1 else 'follow'}",
                         severity=WARNING, line=declared[1])
        if not ok and not boxes:
            continue
        if mismatch:  # a copied-and-edited annotation keeps its source's name (user trial 24)
            problems.add(f, "filename_mismatch", mismatch, severity=WARNING)
        records.append(_boxes_record(image_id, Path(name).name, locator.find(Path(name).name), size[0], size[1],
                                     boxes, labels, [False] * len(boxes), [False] * len(boxes), f))
    records = _one_annotation_an_image(problems, records, "'Image filename'")
    return Dataset("pennfudan", path, tuple(classes), tuple(records), tuple(problems.items))


def _pennfudan_image_name(f: Path, named: str | None, locator) -> tuple[str, str | None]:
    """The image of Penn-Fudan annotation ``f`` whose 'Image filename' line names ``named`` (None: no such line),
    and the warning to give when the two names disagree. As
    VOC's ``<filename>`` (:func:`_image_of`): the annotation file's own name first — its image found by stem, any
    image suffix (trial 52: PNGImages converted to .jpg were "not found") —, the line's only when no image has the
    file's name (trial 47: an edited line named an image that is not there, and the one beside it was reported
    missing)."""
    found_own = locator.find(f.stem)
    own = found_own.name if found_own is not None else f.stem + (Path(named).suffix if named else ".png")
    if named is None or Path(named).stem == f.stem:
        return (own if found_own is not None or named is None else named), None
    said = f"'Image filename' is {named!r} but the annotation file is {f.name}: "
    found_named = None if found_own is not None else locator.find(named) or locator.find(Path(named).stem)
    if found_named is not None:  # by its stem too: images converted to another format (trial 53)
        return found_named.name, said + (f"no image named {f.stem}.* was found, so the image is {found_named.name} "
                                         "(by 'Image filename')")
    return own, said + f"the image is taken to be {own} (by the annotation file's name)"


# ------------------------------------------------------------------------------------------------- detection
def _is_pennfudan_txt(p: Path) -> bool:
    head = text_head(p)
    return head.startswith(PENNFUDAN_HEADER) or "Bounding box for object" in head


def detect_format(path) -> str:
    """Tell the annotation format from a path (file or folder). Raises :class:`DatasetError` when it cannot."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(Problem(str(path), "not_found", "no such file or directory"))
    from .labelme import is_labelme_json  # imported here: labelme and yolo build on this module's helpers
    from .yolo import YAML_SUFFIXES, is_yolo_path

    if path.is_file():
        if path.suffix.lower() == ".json":
            return "labelme" if is_labelme_json(path) else "coco"
        if path.suffix.lower() in YAML_SUFFIXES:  # an Ultralytics dataset YAML
            return "yolo"
        if path.suffix.lower() == ".xml":
            return "ilsvrc" if _sniff_xml_is_ilsvrc(path) else "voc"
        if path.suffix.lower() == ".txt":
            if _is_pennfudan_txt(path):
                return "pennfudan"
            if path.parent.name == "Main" or (path.parent.parent / "Annotations").is_dir():
                return "voc"
            if _lists_images(path) and is_yolo_path(path):  # a YOLO split's list, class names beside it
                return "yolo"
            if _lists_images(path):  # trial 32: "pass --format", which no format would read
                raise DatasetError(Problem(str(path), "unknown_format", "a list of image files, not annotations: "
                                           f"give those images' annotations ({_ANNOTATIONS}); `detect run` takes "
                                           "such a list"))
        if path.suffix.lower() in (".csv", ".tsv"):  # trial 50: Open Images' box CSV was "pass --format", which no
            # format would read
            raise DatasetError(Problem(str(path), "unknown_format",
                                       f"a {path.suffix[1:].upper()} file: detect reads no CSV annotations (Open "
                                       "Images' ImageID, LabelName, XMin, XMax, YMin, YMax boxes and others): convert "
                                       f"them to one it reads ({_ANNOTATIONS})"))
        if zipfile.is_zipfile(path):  # trial 23: a model file was answered "pass --format"
            raise DatasetError(Problem(str(path), "unknown_format",
                                       "a PyTorch file (a model or training checkpoint of `detect train`?), not "
                                       f"annotations: give an annotation set ({_ANNOTATIONS})"))
        with open(path, "rb") as f:
            head = f.read(4096)
        kind = binary_kind(head[:32])
        if kind is None:  # trial 34: a pickle, a legacy PyTorch file, a tar archive… were "pass --format"
            try:
                decode_text(head)
            except UnicodeDecodeError as e:
                if "NUL" in e.reason:  # no text holds one (UTF-16 without a byte-order mark is told apart)
                    kind = f"a binary file (a NUL byte at byte {e.start}, which no text holds)"
        if kind:
            raise DatasetError(Problem(str(path), "unknown_format", f"{kind}, not annotations: give an annotation set "
                                       f"({_ANNOTATIONS})"))
        raise DatasetError(Problem(str(path), "unknown_format", "cannot tell the annotation format; pass --format"))
    if (path / "Annotation").is_dir() and _files(path / "Annotation", ".txt"):
        return "pennfudan"
    if (path / "Annotations").is_dir():
        return "voc"
    # member files, a .pt suffix in any case as a model folder's (trial 63: member0.PT beside ensemble.json read as
    # COCO, "ensemble.json: not a COCO instances file")
    try:
        states = sorted(q.name for q in path.glob("member*.state.ckpt"))
        members = sorted([*(q.name for q in model_files_in(path) if q.name.lower().startswith("member")), *states])
    except OSError:  # an unreadable folder: what reading it says comes below
        states, members = [], []
    if (path / "ensemble.json").is_file() and len(members) > len(states):  # trial 32: read as COCO, exit 0
        raise DatasetError(Problem(str(path), "unknown_format", "a folder of model files (the ensemble `detect train "
                                   f"ensemble` writes), not annotations: give an annotation set ({_ANNOTATIONS}); "
                                   "the folder is `detect run --model`'s"))
    if members and not _files(path, ".json") and not _files(path, ".xml"):  # a stopped run's: was "pass --format"
        listed = f"{', '.join(members[:3])}{', …' if len(members) > 3 else ''}"
        if not states:  # finished members without a listing: a model folder (trial 63: the bundled one was called
            # "an unfinished `detect train ensemble` run" that `--resume` would finish)
            raise DatasetError(Problem(str(path), "unknown_format", f"a folder of model files ({listed}), not "
                                       f"annotations: give an annotation set ({_ANNOTATIONS}); the folder is "
                                       "`detect run --model`'s"))
        raise DatasetError(Problem(str(path), "unknown_format", "a folder of model files of an unfinished `detect "
                                   f"train ensemble` run ({listed}; no ensemble.json yet), not annotations: give an "
                                   f"annotation set ({_ANNOTATIONS}); `detect train ensemble --resume` finishes the "
                                   "run"))
    # a labelme folder (its images beside, often); not only its first 3 files: `detect run --out boxes.json --format
    # coco` and `detect eval --json` saved there (boxes.json, boxes.job.json, boxes.eval.json) sort before photo_1.json
    if any(is_labelme_json(p) for p in _files(path, ".json")[:32]):  # trial 43
        return "labelme"
    jsons = _files(path, ".json")
    if jsons and is_yolo_path(path) and not any(_may_be_coco_json(p) for p in jsons):
        # Label Studio's YOLO export: images/, labels/, classes.txt and notes.json (its classes and "info", no
        # images) — trial 50: read as COCO, "notes.json: not a COCO instances file"
        return "yolo"
    if jsons or ((path / "annotations").is_dir() and _files(path / "annotations", ".json")):
        return "coco"
    first_xml = next(iter(_files(path, ".xml")), None)
    if first_xml is not None:
        return "ilsvrc" if _sniff_xml_is_ilsvrc(first_xml) else "voc"
    first_txt = next(iter(_files(path, ".txt")), None)
    if first_txt is not None and _is_pennfudan_txt(first_txt):
        return "pennfudan"
    if is_yolo_path(path):
        return "yolo"
    if any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):  # trial 32: VOC's JPEGImages/
        raise DatasetError(Problem(str(path), "unknown_format", f"a folder of images without annotations "
                                   f"({_ANNOTATIONS}): give their annotation file or folder (VOC: the folder that "
                                   "holds Annotations/ and JPEGImages/; YOLO: its data.yaml)"))
    held = _sub_folders_with_annotations(path)
    csvs = [p.name for p in path.iterdir() if p.suffix.lower() in (".csv", ".tsv")] if not held else []
    raise DatasetError(Problem(str(path), "unknown_format",
                               "no COCO JSON, ILSVRC/VOC XML, Penn-Fudan, YOLO or LabelMe annotation found here" +
                               (f" (its sub-folders are not read; {held} hold annotation files: give one of them)"
                                if held else f" ({', '.join(sorted(csvs)[:3])}: detect reads no CSV annotations, such "
                                "as Open Images' box CSV; convert them to COCO JSON)" if csvs else "; pass --format")))


def _may_be_coco_json(path: Path, most: int = 1 << 20) -> bool:
    """Whether the JSON file ``path`` may be COCO instances: False only for a small file that is valid JSON and not
    an object with ``images`` (Label Studio's ``notes.json``); a large or unreadable one is left to the COCO reader
    to judge."""
    try:
        if path.stat().st_size > most:
            return True
        data = json.loads(read_text(path))
    except (OSError, UnicodeDecodeError, ValueError):
        return True
    return isinstance(data, dict) and "images" in data


def _sub_folders_with_annotations(path: Path, most: int = 3) -> str:
    """The sub-folders of ``path`` holding ``.json``, ``.xml`` or ``.yaml`` files, named (``train/, val/``; at most
    ``most``, then a count) for a folder none of whose own files is an annotation (trial 43: LabelMe files in
    ``train/`` and ``val/`` got "pass --format")."""
    try:
        subs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    except OSError:
        return ""
    held = []
    for d in subs:
        try:
            if any(_files(d, suffix) for suffix in (".json", ".xml", ".yaml")):
                held.append(d.name + "/")
        except OSError:  # unreadable: not named
            continue
    return ", ".join(held[:most]) + (f" and {len(held) - most} more" if len(held) > most else "")


_ANNOTATIONS = "COCO JSON, ILSVRC/VOC XML, Penn-Fudan, YOLO, LabelMe JSON"


def _files(folder: Path, suffix: str) -> list[Path]:
    """The entries of ``folder`` whose suffix is ``suffix`` in any case (``.XML`` too: trial 33 — tools on Windows
    write them so), sorted, as ``glob`` lists them (one that cannot be read is reported when it is read); of ``x.xml``
    and ``x.XML`` side by side, the first alone (trial 35: the image was counted twice)."""
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() == suffix)
    exact = {p.stem for p in found if p.suffix == suffix}
    return [p for p in found if p.suffix == suffix or p.stem not in exact]


def _lists_images(path: Path) -> bool:
    """Whether the text file ``path`` is a list of image files (every line of its first 20 that is not blank names
    one, by its suffix), as `detect run` takes."""
    try:
        lines = [ln.strip() for ln in read_text(path).splitlines()[:20] if ln.strip()]
    except (OSError, UnicodeDecodeError):
        return False
    return bool(lines) and all(Path(ln.split()[0]).suffix.lower() in IMAGE_SUFFIXES for ln in lines)


FORMATS = ("coco", "ilsvrc", "voc", "pennfudan", "yolo", "labelme")


def read_dataset(path, format: str | None = None, *, images=None, image_list=None, image_set=None,
                 split: str | None = None, strict: bool = True) -> Dataset:
    """Read any supported annotation ``path``; ``format`` (one of :data:`FORMATS`) overrides detection.

    ``images``: a folder to look for image files in first. ``image_list``: an ILSVRC evaluation list (``ilsvrc``
    only). ``image_set``: a VOC ``ImageSets/Main`` set name (``voc`` only). ``split``: the split of a YOLO dataset
    YAML to read (default ``val``: :func:`detector.data.yolo.read_yolo`); other formats, and YOLO given as a
    folder or list (the split itself), have none to choose, and it is not used.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(Problem(str(path), "not_found", "no such file or directory"))
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if image_list is not None and fmt != "ilsvrc":
        raise ValueError(f"an image list applies to ILSVRC XML, not to {fmt}")
    if fmt == "coco":
        return read_coco(path, images=images, strict=strict)
    if fmt == "ilsvrc":
        return read_ilsvrc(path, image_list=image_list, images=images, strict=strict)
    if fmt == "voc":
        return read_voc(path, image_set=image_set, images=images, strict=strict)
    if fmt == "yolo":
        from .yolo import read_yolo  # imported here: yolo builds on this module's helpers

        return read_yolo(path, split=split, images=images, strict=strict)
    if fmt == "labelme":
        from .labelme import read_labelme  # imported here: labelme builds on this module's helpers

        return read_labelme(path, images=images, strict=strict)
    return read_pennfudan(path, images=images, strict=strict)
