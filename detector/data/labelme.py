"""LabelMe JSON annotations: the files the ``labelme`` labelling tool writes, one per image.

The format as labelme writes and reads it (https://github.com/wkentaro/labelme: ``labelme/_label_file.py``
``LabelFile.load``; its converters ``examples/bbox_detection/labelme2voc.py``,
``examples/instance_segmentation/labelme2coco.py``, ``labelme/cli/export_yolo.py``)::

    {"version": "5.4.1", "flags": {}, "imagePath": "../images/a.jpg", "imageData": "<base64>" | null,
     "imageHeight": 480, "imageWidth": 640,
     "shapes": [{"label": "dog", "points": [[x, y], ...], "group_id": null, "shape_type": "rectangle",
                 "flags": {}, "description": ""}]}

- **Which files.** A folder's ``*.json`` files (not its sub-folders: labelme's converters glob ``input_dir/*.json``),
  or one such file. A JSON file of the folder that is no LabelMe file (neither ``shapes`` nor ``imagePath``: a
  ``boxes.json`` saved there) is left out with a warning.
- **Which image.** ``imagePath``, relative to the JSON file's folder, backslashes read as separators (labelme on
  Windows writes ``..\\images\\a.jpg``; ``LabelFile.load`` reads it as a ``PureWindowsPath``); with ``images``
  (``--images``) that folder is looked in first, by the name's last part. Where ``imagePath`` leads nowhere, the image
  of that name beside the JSON file, then the one named like the JSON file (``a.json`` ↔ ``a.jpg``, as labelme names
  its files), is read, with a warning.
- **Image size.** The size of the image labelme showed when the points were drawn: ``imageData`` (the image
  embedded in base64; labelme shows it rather than the file), else the image file (header only, EXIF orientation
  applied, as labelme applies it when it loads a file), else ``imageWidth`` x ``imageHeight``. Those two fields
  disagreeing with the image is a warning, the image's size used (labelme's ``_check_image_height_and_width`` does
  the same). No image file and no ``imageData`` is no error where the two fields give the size (the boxes can be
  scored; ``detect inspect`` lists the image as missing).
- **Shapes → boxes**, continuous pixel coordinates (labelme's points are positions on the image, as its YOLO export
  reads them: ``w = |x2 − x1|``), float64 ``(min x, min y, max x, max y)``: ``rectangle`` (two opposite corners in any
  order, as labelme2voc sorts them; four corners, as some labelme forks write, read the same), ``polygon`` and
  ``oriented_rectangle`` (the bounding box of the points), ``circle`` (centre and a point on the circle: centre ±
  radius), ``mask`` (labelme 5: a base64 PNG over the pixels ``int(x1)..int(x2)``, ``int(y1)..int(y2)`` of its two
  points; the box of its set pixels, ``(x, y, x + 1, y + 1)`` a pixel, as labelme2coco's ``toBbox`` of the mask). A
  missing ``shape_type`` is ``polygon`` (labelme 3 files; labelme2coco's default). ``point``, ``line`` and
  ``linestrip`` have no area: not objects, left out with one warning per file.
- **group_id**: shapes of one ``(label, group_id)`` are one object (labelme2coco merges them into one instance),
  whose box covers them all; ``null`` is a shape of its own.
- **Classes.** A ``labels.txt`` (one name a line, as labelme's examples keep beside the annotated folder) in the
  folder or the one above it gives the classes and their order; ``__ignore__`` and ``_background_`` (its first lines
  in labelme's examples) are no classes, and a label not in it is an error. Without one the classes are the labels
  found, sorted (as labelme's YOLO export orders them). Shapes labelled ``__ignore__`` or ``_background_`` are left
  out, as labelme2coco leaves them out. Names map onto the ILSVRC vocabulary as COCO (then VOC) names do.
- No ``difficult`` or crowd flag: labelme has none (its ``flags`` are the user's own).

Broken input is reported as the other readers report it (:mod:`detector.data.readers`), naming the file and the
field (``shapes[3].points``): errors for what labelme itself refuses to load (no ``shapes``, no ``imagePath``, a
shape without ``label`` or ``points``, points that are not ``[x, y]`` numbers, a ``group_id`` that is not an
integer, an ``imageData`` that is no image) and for a shape type it does not draw, a wrong number of points, a
non-finite number, a label not in ``labels.txt``; warnings for zero area, a box outside the image, the size fields
disagreeing with the image, shapes without area. Image ids are positions 1, 2, … in file-name order; ``file_name`` is
the image's path relative to the JSON file's folder (``a.jpg``), or, for an image outside it, relative to the folder
the two share (``../images/a.jpg`` → ``images/a.jpg``), so that predictions match it by name.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import os
import re
from pathlib import Path, PureWindowsPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from .dataset import WARNING, Dataset, DatasetError, Problem
from .images import image_size
from .io import count, missing_fields, not_text, read_text, text_head
from .readers import _boxes_record, _check_box, _files, _ImageLocator, _json_type, _Problems, load_json
from .yolo import _categories, polygon_box

__all__ = ["read_labelme", "is_labelme_json", "labelme_box", "LABELS_FILE", "NOT_CLASSES", "AREA_SHAPES",
           "NO_AREA_SHAPES"]

LABELS_FILE = "labels.txt"  # labelme's examples: examples/*/labels.txt beside data_annotated/
NOT_CLASSES = ("__ignore__", "_background_")  # the first lines of labelme's labels.txt; shapes so labelled: no objects
AREA_SHAPES = ("rectangle", "polygon", "circle", "mask", "oriented_rectangle")
NO_AREA_SHAPES = ("point", "line", "linestrip")
_POINTS_NEEDED = {"rectangle": "2 (opposite corners) or 4", "circle": "2 (the centre and a point on the circle)",
                  "mask": "2 (the corners of the mask)", "oriented_rectangle": "4 (the corners)",
                  "polygon": "at least 1"}

_SHAPES_KEY = re.compile(r'"shapes"\s*:\s*\[')
_IMAGE_PATH_KEY = re.compile(r'"image(?:Path|Data)"\s*:')  # imageData: keys sorted (jq -S, sort_keys) put it first
_COCO_KEYS = re.compile(r'"annotations"\s*:|"images"\s*:\s*\[|"categories"\s*:\s*\[')


def _fail(path, message, *, kind="malformed", line=None):
    raise DatasetError(Problem(str(path), kind, message, line=line))


def is_labelme_json(path) -> bool:
    """Whether the JSON file ``path`` looks like a LabelMe file (for :func:`detector.data.readers.detect_format`): a
    ``"shapes": [``, ``"imagePath":`` or ``"imageData":`` key in its first 64 KiB (a file written with its keys sorted
    — ``jq -S``, ``json.dump(sort_keys=True)`` — or by a labelme of Python 2's unordered dicts may begin with a
    megabyte of ``imageData``), and none of COCO's ``annotations``, ``images``, ``categories``."""
    head = text_head(path, 65536)
    return bool(_SHAPES_KEY.search(head) or _IMAGE_PATH_KEY.search(head)) and not _COCO_KEYS.search(head)


# ------------------------------------------------------------------------------------------------- class names
def _labels_file(folder: Path) -> Path | None:
    """The ``labels.txt`` of a folder of LabelMe files: in it, else in the folder above it (labelme's examples)."""
    for f in (folder, folder.parent):
        if (f / LABELS_FILE).is_file():
            return f / LABELS_FILE
    return None


def _read_labels(path: Path, problems) -> list[str]:
    """The class names of a ``labels.txt``, in order: one a line, blank lines and ``__ignore__`` /
    ``_background_`` left out; a name repeated is kept once, with a warning."""
    try:
        lines = read_text(path).splitlines()
    except OSError as e:
        _fail(path, f"cannot read: {e.strerror or e}", kind="unreadable")
    except UnicodeDecodeError as e:
        _fail(path, f"{not_text(e)}, not a list of class names")
    names, first = [], {}
    for n, line in enumerate(lines, start=1):
        name = line.strip()
        if not name or name in NOT_CLASSES:
            continue
        if name in first:
            problems.add(path, "malformed", f"{name!r} is listed twice (also line {first[name]}): kept once",
                         severity=WARNING, line=n)
            continue
        first[name] = n
        names.append(name)
    if not names:
        _fail(path, "no class names in it (one a line; __ignore__ and _background_ are none)")
    return names


# ------------------------------------------------------------------------------------------------------ shapes
def _short(value, limit: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def labelme_box(shape_type: str, coords) -> tuple[float, float, float, float]:
    """The box ``(x1, y1, x2, y2)`` of a LabelMe shape that has an area but no mask (module docstring), its points
    given flat (``x1 y1 x2 y2 …``): the bounding box of its points (:func:`detector.data.yolo.polygon_box`), a
    circle's centre ± radius."""
    if shape_type == "circle":
        cx, cy, px, py = coords[:4]
        r = math.hypot(px - cx, py - cy)
        return cx - r, cy - r, cx + r, cy + r
    return polygon_box(coords)


def _mask_box(problems, f: Path, where: str, shape: dict, points) -> tuple[float, float, float, float] | None:
    """The box of a labelme 5 ``mask`` shape: its base64 PNG's set pixels, placed at ``int()`` of its first point
    (labelme's ``mask[y1:y2 + 1, x1:x2 + 1] = shape["mask"]``), each pixel ``(x, y, x + 1, y + 1)``; None with the
    problem recorded when it cannot be read or sets no pixel."""
    encoded = shape.get("mask")
    if not isinstance(encoded, str) or not encoded:
        problems.add(f, "malformed", f"{where}.mask must be a base64-encoded PNG (a labelme 5 mask shape), got "
                     f"{_short(encoded, 30) if not isinstance(encoded, str) else 'an empty string'}")
        return None
    try:
        with Image.open(io.BytesIO(base64.b64decode(encoded, validate=False))) as img:
            mask = np.asarray(img)
    except (binascii.Error, ValueError, OSError, UnidentifiedImageError) as e:
        problems.add(f, "malformed", f"{where}.mask is not a base64-encoded image ({e})")
        return None
    mask = mask.any(axis=-1) if mask.ndim == 3 else mask.astype(bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        problems.add(f, "zero_area", f"{where}.mask sets no pixel: left out", severity=WARNING)
        return None
    x0, y0 = int(points[0][0]), int(points[0][1])  # numpy's astype(int), as labelme places it
    return (float(x0 + cols[0]), float(y0 + rows[0]), float(x0 + cols[-1] + 1), float(y0 + rows[-1] + 1))


def _group_id(value):
    """A shape's ``group_id`` as labelme takes it: null, or an integer (``2.0`` read as 2); ``False`` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not _is_number(value) or not float(value).is_integer():
        return False
    return int(value)


def _read_shapes(problems, f: Path, shapes: list, width: int, height: int, names: set[str] | None,
                 labels_path: Path | None):
    """The objects of one file's ``shapes`` as ``[(label, box)]`` (one per ``(label, group_id)``, boxes merged),
    problems recorded."""
    objects: dict = {}  # (label, group_id or the shape's index) -> [label, x1, y1, x2, y2]
    no_area: list[tuple[int, str]] = []
    for k, s in enumerate(shapes):
        where = f"shapes[{k}]"
        if (lack := missing_fields(s, "label", "points")) is not None:
            problems.add(f, "malformed", f"{where} {lack}")
            continue
        label, points = s["label"], s["points"]
        if not isinstance(label, str) or not label.strip():
            problems.add(f, "malformed", f"{where}.label must be a non-empty string, got {_short(label, 30)}")
            continue
        stype = s.get("shape_type")
        if stype is None:
            stype = "polygon"  # labelme 3 wrote no shape_type; labelme2coco reads such a shape as a polygon
        if not isinstance(stype, str):
            problems.add(f, "malformed", f"{where}.shape_type must be a string, got {_short(stype, 30)}")
            continue
        if not (isinstance(points, list) and points and all(
                isinstance(p, list) and len(p) == 2 and all(_is_number(v) for v in p) for p in points)):
            problems.add(f, "malformed", f"{where}.points must be a non-empty list of [x, y] pairs of numbers, got "
                         f"{_short(points)}")
            continue
        group = _group_id(s.get("group_id"))
        if group is False:
            problems.add(f, "malformed", f"{where}.group_id must be an integer or null, got "
                         f"{_short(s['group_id'], 30)}")
            continue
        if stype in NO_AREA_SHAPES:
            no_area.append((k, stype))
            continue
        if stype not in AREA_SHAPES:
            problems.add(f, "malformed", f"{where}.shape_type {stype!r} is not a shape labelme draws "
                         f"({', '.join(AREA_SHAPES + NO_AREA_SHAPES)})")
            continue
        n = len(points)
        if (stype == "rectangle" and n not in (2, 4)) or (stype in ("circle", "mask") and n != 2) or \
                (stype == "oriented_rectangle" and n != 4):
            problems.add(f, "malformed", f"{where}.points: a {stype} has {_POINTS_NEEDED[stype]} points, got {n}")
            continue
        if label in NOT_CLASSES:  # labelme2coco leaves them out (no category of theirs)
            continue
        if names is not None and label not in names:
            shown = ", ".join(sorted(names)[:8]) + (", …" if len(names) > 8 else "")
            problems.add(f, "unknown_class", f"{where}.label {label!r} is not among the classes of {labels_path} "
                         f"({shown})")
            continue
        raw = [float(v) for p in points for v in p]
        desc = f"{where} ({label!r}, {stype}).points {_short(points)}"
        if not all(math.isfinite(v) for v in raw):
            problems.add(f, "bad_number", f"{desc} has a non-finite number")
            continue
        box = _mask_box(problems, f, where, s, points) if stype == "mask" else labelme_box(stype, raw)
        if box is None:
            continue
        if not _check_box(problems, f, desc, raw if stype != "circle" else list(box), np.asarray(box, np.float64),
                          width, height, inverted=None):
            continue
        key = (label, group if group is not None else ("shape", k))
        if key in objects:
            o = objects[key]
            o[1:] = [min(o[1], box[0]), min(o[2], box[1]), max(o[3], box[2]), max(o[4], box[3])]
        else:
            objects[key] = [label, *box]
    if no_area:
        kinds = sorted({t for _, t in no_area})
        shown = ", ".join(f"shapes[{k}]" for k, _ in no_area[:4]) + (", …" if len(no_area) > 4 else "")
        problems.add(f, "no_area", f"{count(len(no_area), 'shape')} without an area ({'/'.join(kinds)}: {shown}): no "
                     "objects, left out", severity=WARNING)
    return [(o[0], tuple(o[1:])) for o in objects.values()]


# ------------------------------------------------------------------------------------------------ image, size
def _find_image(f: Path, written: str, images, locators: dict) -> tuple[Path | None, Path, bool]:
    """(the image file of LabelMe file ``f`` whose ``imagePath`` is ``written``, or None; where ``imagePath``
    leads; whether the image was found elsewhere than there, by name)."""
    windows = PureWindowsPath(written)
    rel = windows.as_posix()  # labelme's LabelFile.load: "..\\images\\a.jpg" → "../images/a.jpg"
    # an absolute Windows path (C:\\Users\\…) leads nowhere here: named as written, not joined to this folder
    expected = Path(rel) if windows.drive else Path(os.path.normpath(f.parent / rel))

    def find(folder, name):
        if folder not in locators:
            locators[folder] = _ImageLocator([folder])
        return locators[folder].find(name)

    base = Path(rel).name
    if images is not None:
        found = find(Path(images), base) or find(Path(images), f.stem)
        if found is not None:
            return found, expected, False
    if expected.is_file():
        return expected, expected, False
    found = find(f.parent, base) or find(f.parent, f.stem)
    return found, expected, found is not None


def _embedded_size(problems, f: Path, data) -> tuple[int, int] | None | bool:
    """The size of the image in ``imageData``: None where there is none, False (problem recorded) where it is no
    image."""
    encoded = data.get("imageData")
    if encoded is None or encoded == "":
        return None
    if not isinstance(encoded, str):
        problems.add(f, "malformed", f"imageData must be a base64-encoded image or null, got {_json_type(encoded)}")
        return False
    try:
        return image_size(io.BytesIO(base64.b64decode(encoded)))
    except (binascii.Error, ValueError, OSError, UnidentifiedImageError) as e:
        problems.add(f, "malformed", f"imageData is not a base64-encoded image ({e})")
        return False


def _size(problems, f: Path, data, image: Path | None, expected: Path) -> tuple[int, int] | None:
    """The size the points of ``f`` are in (module docstring), or None with the problem recorded."""
    embedded = _embedded_size(problems, f, data)
    if embedded is False:
        return None
    fw, fh = data.get("imageWidth"), data.get("imageHeight")
    fields_ok = all(_is_number(v) and v > 0 and math.isfinite(v) and float(v).is_integer() for v in (fw, fh))
    measured, what = embedded, "imageData"
    if measured is None and image is not None:
        try:
            measured, what = image_size(image), image.name
        except (UnidentifiedImageError, OSError):
            measured = None  # unreadable: detect inspect says so; the fields may still give the size
    if measured is None:
        if fields_ok:
            return int(fw), int(fh)
        why = f"its image {image} cannot be read" if image is not None else f"imagePath leads to no image ({expected})"
        fields = ("no imageWidth/imageHeight" if fw is None and fh is None else
                  f"imageWidth/imageHeight ({_short(fw, 20)} x {_short(fh, 20)}) give no size")
        problems.add(f, "missing_image", f"{why}, there is no imageData, and {fields}: the size of the image the "
                     "points are on is unknown")
        return None
    if (fw is not None or fh is not None) and (not fields_ok or (int(fw), int(fh)) != measured):
        problems.add(f, "size_mismatch", f"imageWidth x imageHeight is {_short(fw, 20)} x {_short(fh, 20)} but the "
                     f"image ({what}) is {measured[0]} x {measured[1]}: the image's size is used, as labelme uses it",
                     severity=WARNING)
    return measured


def _file_name(image: Path, folder: Path) -> str:
    """The name predictions match an image by: its path relative to ``folder`` (the JSON file's), or, for one
    outside it, relative to the folder the two share (``../images/a.jpg`` → ``images/a.jpg``)."""
    image, folder = Path(os.path.abspath(image)), Path(os.path.abspath(folder))
    rel = os.path.relpath(image, folder)
    if not rel.startswith(".."):
        return Path(rel).as_posix()
    return Path(os.path.relpath(image, os.path.commonpath([image, folder]))).as_posix()


# --------------------------------------------------------------------------------------------------- the reader
def read_labelme(path, *, images=None, strict: bool = True) -> Dataset:
    """Read LabelMe JSON (module docstring) into a :class:`Dataset` of format ``labelme``.

    ``path``: a folder of LabelMe ``*.json`` files (not its sub-folders) or one such file; ``images``: a folder to
    look for their image files in first. Raises :class:`DatasetError` for what makes the whole set unreadable (a
    broken ``labels.txt``); with ``strict`` for the first error of a file, else records it and reads the rest."""
    path = Path(path)
    problems = _Problems(strict)
    folder = path if path.is_dir() else path.parent
    files = _files(path, ".json") if path.is_dir() else [path]
    if not files:
        problems.add(path, "missing_annotation", "no LabelMe files (*.json) in this folder (its sub-folders are not "
                     "read, as labelme's converters read a folder)")
    labels_path = _labels_file(folder)
    names = _read_labels(labels_path, problems) if labels_path is not None else None
    allowed = set(names) if names is not None else None
    locators: dict = {}
    pending = []  # (image id, file name, image path, width, height, [(label, box)], json file)
    seen: dict[Path, Path] = {}  # image (as found, else where imagePath leads) -> the JSON file naming it first
    for image_id, f in enumerate(files, start=1):
        data = load_json(f, problems, "a LabelMe file")
        if data is None:
            continue
        if not isinstance(data, dict) or ("shapes" not in data and "imagePath" not in data):
            what = ("a `detect run` output (boxes.json)" if isinstance(data, dict) and "detections" in data else
                    "a COCO file" if isinstance(data, dict) and "annotations" in data else
                    f"{_json_type(data)} without 'shapes' and 'imagePath'")
            if path.is_dir():
                problems.add(f, "malformed", f"not a LabelMe file ({what}): left out", severity=WARNING)
            else:
                problems.add(f, "malformed", f"not a LabelMe file: {what}")
            continue
        if (lack := missing_fields(data, "shapes", "imagePath")) is not None:
            problems.add(f, "malformed", f"a LabelMe file {lack}")
            continue
        if not isinstance(data["shapes"], list):
            problems.add(f, "malformed", f"shapes must be a list, got {_json_type(data['shapes'])}")
            continue
        written = data["imagePath"]
        if not isinstance(written, str) or not written.strip():
            problems.add(f, "malformed", f"imagePath must be the image's path, got {_short(written, 30)}")
            continue
        image, expected, elsewhere = _find_image(f, written, images, locators)
        if elsewhere:
            problems.add(f, "filename_mismatch", f"imagePath '{written}' leads to no image ({expected}): "
                         f"{image.name} beside the file is read", severity=WARNING)
        key = Path(os.path.abspath(image if image is not None else expected))
        if key in seen:
            problems.add(f, "duplicate_image", f"imagePath '{written}' is the image of {seen[key].name} too: two "
                         "annotations of one image")
            continue
        size = _size(problems, f, data, image, expected)
        if size is None:
            continue
        seen[key] = f
        objects = _read_shapes(problems, f, data["shapes"], size[0], size[1], allowed, labels_path)
        # an absolute Windows path found nowhere (expected is that path, relative here): named by its file name, not
        # by a path taken from the current folder (trial 60: 'repo/C:/Users/me/old/a.jpg')
        file_name = (_file_name(image if image is not None else expected, f.parent)
                     if image is not None or not PureWindowsPath(written).drive else expected.name)
        pending.append((image_id, file_name, image, *size, objects, f))
    if names is None:
        names = sorted({label for *_, objects, _ in pending for label, _ in objects})
    classes = _categories(names, labels_path or path, problems, labels=True)
    index = {name: i for i, name in enumerate(names)}
    records = []
    for image_id, file_name, image, w, h, objects, f in pending:
        boxes = [box for _, box in objects]
        records.append(_boxes_record(image_id, file_name, image, w, h, boxes, [index[label] for label, _ in objects],
                                     [False] * len(boxes), [False] * len(boxes), f))
    return Dataset("labelme", path, tuple(classes), tuple(records), tuple(problems.items))
