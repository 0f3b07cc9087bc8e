"""YOLO (Ultralytics / Darknet) text annotations: the dataset YAML, the label files, the class names.

The format as Ultralytics defines and reads it (https://docs.ultralytics.com/datasets/detect/;
``ultralytics/data/utils.py``: ``check_det_dataset``, ``img2label_paths``, ``verify_image_label``;
``ultralytics/data/base.py``: ``get_img_files``):

- **The dataset YAML** (``data.yaml``): ``path`` (the dataset root; absent: the YAML's folder), ``train``, ``val``
  (``validation`` is read as ``val``, as Ultralytics renames it), ``test`` — each an images folder, a list of them,
  or a ``.txt`` list of image paths, relative to ``path`` (a relative ``path`` is read against the YAML's folder,
  then, where nothing is there, against the working folder, as Ultralytics does; its ``DATASETS_DIR`` fallback is
  not looked at); a split ``../x`` that is not there is read as ``x`` (Ultralytics' rule for Roboflow exports, whose
  ``val: ../valid/images`` lies beside the YAML) — and ``names``, a list or an ``{index: name}`` mapping of the
  indices 0..n-1 (``nc`` alone names them ``class_0``, ``class_1``…; ``nc`` other than the number of names is an
  error, as there).
- **Images of a split**: an images folder's image files, its sub-folders' too (Ultralytics globs ``**/*.*``), sorted
  by path; a ``.txt`` list's lines (``./x.jpg`` relative to the list's folder, as Ultralytics reads them; other
  relative lines against the list's folder, then the dataset root).
- **Labels**: the image's path with its last ``/images/`` component replaced by ``/labels/`` and its suffix by
  ``.txt`` (``images/val/a.jpg`` → ``labels/val/a.txt``); without an ``/images/`` component, beside the image. A
  missing label file is an image without objects (Ultralytics: "label missing"), as is an empty one.
- **Label lines**: ``class x_center y_center width height``, the four normalised to [0, 1] by the image's width and
  height; a line of more than 5 numbers is a polygon ``class x1 y1 x2 y2 …`` (a segmentation label), read as its
  bounding box (the least and greatest of its points: Ultralytics' ``segments2boxes``; Ultralytics reads a whole
  file so once one line is a polygon, this reader each line by its own length).

Boxes become the project's xyxy in pixels of the image as it is decoded (:func:`detector.data.images.image_size`,
EXIF orientation applied), float64: ``(W (cx - w/2), H (cy - h/2), W (cx + w/2), H (cy + h/2))``
(:func:`detector.data.boxes.yolo_to_xyxy`). So every image file of a split is opened (its header) to read its size.

Broken input is reported as the other readers report it (:mod:`detector.data.readers`), naming the file and line: a
line that is not numbers, of a wrong number of fields, a class index that is not an integer or not among the names,
a non-finite number, a negative width or height (errors: the box is dropped); coordinates outside [0, 1] by more
than :data:`ROUNDING` (a warning, the box kept: a box outside the image, which Ultralytics refuses beyond 1 %);
a line repeating an earlier one (a warning; dropped, as Ultralytics drops duplicate labels).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import UnidentifiedImageError

from .boxes import yolo_to_xyxy
from .dataset import WARNING, Dataset, DatasetError, Problem
from .images import image_size
from .io import count, not_text, read_text, text_head
from .names import IMAGE_SUFFIXES
from .readers import IMAGE_EXTENSIONS, _boxes_record, _Problems
from .vocab import Category, category_for_name

__all__ = ["read_yolo", "yolo_names", "name_category", "polygon_box", "names_beside", "label_path", "parse_numbers", "is_yolo_path",
           "YAML_SUFFIXES", "NAMES_FILES", "DEFAULT_SPLIT", "SPLITS", "ROUNDING"]

YAML_SUFFIXES = (".yaml", ".yml")
NAMES_FILES = ("classes.txt", "obj.names", "data.yaml", "data.yml")  # LabelImg / Darknet / Ultralytics, in this order
SPLITS = ("train", "val", "test")  # Ultralytics' splits (and "minival", read if named)
DEFAULT_SPLIT = "val"  # what `yolo val` scores; `detect train --gt data.yaml` asks for "train"
ROUNDING = 1e-5  # normalised coordinates beyond [0, 1] by less than this are rounding (Ultralytics writes 6
#                  significant digits, "%g"): not reported as outside the image


def _fail(path, message, *, kind="malformed", line=None):
    raise DatasetError(Problem(str(path), kind, message, line=line))


# ------------------------------------------------------------------------------------------------ class names
def _load_yaml(path: Path):
    """The YAML file ``path`` (safe loader); :class:`DatasetError` naming the file (and line) when it cannot be
    read or parsed."""
    import yaml  # PyYAML (a dependency); imported here: only YOLO input needs it

    try:
        text = read_text(path)
    except OSError as e:
        _fail(path, f"cannot read: {e.strerror or e}", kind="unreadable")
    except UnicodeDecodeError as e:
        _fail(path, f"{not_text(e)}, not a dataset YAML")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        _fail(path, f"not valid YAML: {getattr(e, 'problem', None) or e}", line=mark.line + 1 if mark else None)


def yolo_names(data: dict, path) -> list[str]:
    """The class names of a dataset YAML's ``data`` (read from ``path``), index order: ``names`` as a list, or as a
    mapping ``{index: name}`` of the indices 0..n-1 (keys may be written as strings of digits), or ``nc`` alone
    (``class_0``…), as Ultralytics' ``check_det_dataset`` / ``check_class_names`` take them. Raises
    :class:`DatasetError` naming the file otherwise (neither field, ``nc`` not the number of names, indices not
    0..n-1, an empty name)."""
    names, nc = data.get("names"), data.get("nc")
    if names is None and nc is None:
        _fail(path, "no 'names' (nor 'nc'): the class names of the label files' indices are needed")
    if names is None:
        if not isinstance(nc, int) or isinstance(nc, bool) or nc < 1:
            _fail(path, f"'nc' must be a positive integer, got {nc!r}")
        return [f"class_{i}" for i in range(nc)]
    if isinstance(names, dict):
        try:
            by_index = {int(k): v for k, v in names.items()}
        except (TypeError, ValueError):
            _fail(path, f"'names' keys must be class indices 0, 1, …, got {list(names)[:5]!r}")
        if sorted(by_index) != list(range(len(by_index))):
            _fail(path, f"'names' must map the class indices 0-{len(by_index) - 1}, got indices "
                  f"{sorted(by_index)[:8]!r}")
        names = [by_index[i] for i in range(len(by_index))]
    elif not isinstance(names, list):
        _fail(path, f"'names' must be a list or an {{index: name}} mapping, got {type(names).__name__}")
    if nc is not None and nc != len(names):
        _fail(path, f"'names' holds {count(len(names), 'name')} but 'nc' is {nc!r}")
    out = []
    for i, name in enumerate(names):
        if name is None or not str(name).strip():
            _fail(path, f"'names' gives class {i} no name")
        out.append(str(name))
    if not out:
        _fail(path, "'names' is empty")
    return out


def _names_txt(path: Path) -> list[str]:
    """A Darknet ``obj.names`` / LabelImg ``classes.txt``: one name a line, index order (blank lines at the end
    ignored; one inside would shift the indices after it: an error naming it)."""
    try:
        lines = [ln.strip() for ln in read_text(path).splitlines()]
    except OSError as e:
        _fail(path, f"cannot read: {e.strerror or e}", kind="unreadable")
    except UnicodeDecodeError as e:
        _fail(path, f"{not_text(e)}, not a list of class names")
    while lines and not lines[-1]:
        lines.pop()
    for n, name in enumerate(lines, start=1):
        if not name:
            _fail(path, "an empty line among the class names (each line names the class of its index, from 0)",
                  line=n)
    if not lines:
        _fail(path, "no class names in it")
    return lines


def _yaml_with_names(folder: Path) -> Path | None:
    """A dataset YAML in ``folder``: ``data.yaml`` / ``data.yml``, else the one ``*.yaml`` there that has
    ``names:`` or ``nc:`` (as Ultralytics' ``find_dataset_yaml`` finds one)."""
    for name in ("data.yaml", "data.yml"):
        if (folder / name).is_file():
            return folder / name
    try:
        found = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in YAML_SUFFIXES and p.is_file()]
    except OSError:
        return None
    found = [p for p in found if _mentions_names(p)]
    return found[0] if len(found) == 1 else None


def _mentions_names(path: Path) -> bool:
    head = text_head(path, 65536)
    return any(line.lstrip().startswith(("names:", "nc:")) and not line.startswith((" ", "\t"))
               for line in head.splitlines())


def names_beside(folder: Path, *, levels: int = 2) -> tuple[list[str], Path] | None:
    """The class names for a folder of YOLO labels or images given without its YAML: a ``classes.txt`` /
    ``obj.names`` (one name a line) or a dataset YAML (its ``names``) in ``folder`` or up to ``levels`` folders above
    it (``ds/images/val`` → ``ds/``; Roboflow's ``ds/valid/images`` → ``ds/``), the nearest first; with the file
    that gave them. None when there is none. Raises :class:`DatasetError` for one that is there but broken."""
    for f in [folder, *list(folder.parents)[:levels]]:
        for name in NAMES_FILES[:2]:
            if (f / name).is_file():
                return _names_txt(f / name), f / name
        y = _yaml_with_names(f)
        if y is not None:
            data = _load_yaml(y)
            if not isinstance(data, dict):
                _fail(y, f"not a dataset YAML: expected a mapping with 'names', got {type(data).__name__}")
            return yolo_names(data, y), y
    return None


def name_category(name: str, index: int) -> Category:
    """Class ``index`` of a YOLO ``names`` entry, mapped onto the ILSVRC vocabulary as a COCO (then VOC) name is
    (``person`` → n00007846; Ultralytics' own datasets use the COCO names). Spaces around the name are not part of
    it for the mapping (a LabelMe label ``"person "``, as the VOC reader strips ``<name> person </name>``): the class
    keeps the name as written."""
    key = " ".join(name.split())
    mapped = category_for_name(key, "coco") or category_for_name(key, "voc")
    return Category(name, mapped.wnid if mapped else None, mapped.det_id if mapped else None, source_id=index)


def polygon_box(coords) -> tuple[float, float, float, float]:
    """The bounding box ``(x1, y1, x2, y2)`` of a polygon ``x1 y1 x2 y2 …`` (a segmentation line's points, in its own
    units): the least and greatest of its points, as Ultralytics' ``segments2boxes``."""
    xs, ys = coords[0::2], coords[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _categories(names: list[str], source, problems, *, labels: bool = False) -> list[Category]:
    """One class per name, index order, each mapped onto the ILSVRC vocabulary as a COCO (then VOC) name is
    (``person`` → n00007846; Ultralytics' own datasets use the COCO names); a name mapping onto the class of an
    earlier one, or repeating it, stays a class of its own (a warning), as :func:`readers.read_coco` keeps two COCO
    categories of one class apart. ``labels``: the names are labels written on the objects (LabelMe), not an
    indexed list: a warning names the labels, and two that differ only in capitals or spaces (``Bottle``,
    ``bottle``) are warned of too."""
    classes, first, spelt = [], {}, {}
    for i, name in enumerate(names):
        cat = name_category(name, i)
        same = " ".join(name.split()).casefold()
        if cat.key in first:
            j = first[cat.key]
            what = (f"labels {names[j]!r} and {name!r} name one class ({cat.name if cat.wnid else names[j]})"
                    if labels else f"class {i} {name!r} is the class of class {j} {names[j]!r}")
            problems.add(source, "malformed", f"{what}: {name!r} kept as a class of its own, its objects scored apart"
                         + (" — give them one spelling (a labels.txt lists the labels)" if labels else ""),
                         severity=WARNING)
            cat = Category(name if name != names[j] else f"{name} (class {i})", source_id=i)
        elif labels and same in spelt:  # unmapped names differing in capitals alone: no class joins them either
            problems.add(source, "malformed", f"labels {spelt[same]!r} and {name!r} differ only in capitals or "
                         "spaces: two classes, their objects scored apart — give them one spelling (a labels.txt "
                         "lists the labels)", severity=WARNING)
        first.setdefault(cat.key, i)
        spelt.setdefault(same, name)
        classes.append(cat)
    return classes


# ------------------------------------------------------------------------------------------------- label lines
def _swap_last(path: Path, old: str, new: str, *, folders_only: bool = False) -> Path | None:
    """``path`` with its last component ``old`` replaced by ``new`` (``folders_only``: not the last component,
    the file's own name), or None when it has none."""
    parts = list(path.parts)
    for k in range(len(parts) - (2 if folders_only else 1), -1, -1):
        if parts[k] == old:
            parts[k] = new
            return Path(*parts)
    return None


def label_path(image: Path) -> Path:
    """The label file of ``image`` by Ultralytics' ``img2label_paths``: its last ``/images/`` path component
    replaced by ``/labels/``, its suffix by ``.txt`` (``ds/images/val/a.jpg`` → ``ds/labels/val/a.txt``;
    without an ``images`` component, ``a.txt`` beside the image)."""
    return (_swap_last(image, "images", "labels", folders_only=True) or image).with_suffix(".txt")


def _image_of_label(label: Path) -> list[Path]:
    """Where the image of ``label`` may be: its last ``labels`` folder component replaced by ``images`` (the
    inverse of :func:`label_path`), then beside it; without a suffix (tried as the image suffixes)."""
    swapped = _swap_last(label, "labels", "images", folders_only=True)
    return [p.with_suffix("") for p in (swapped, label) if p is not None]


def parse_numbers(parts: list[str]) -> list[float] | None:
    """The fields of a line as floats, or None when one is not a number."""
    try:
        return [float(v) for v in parts]
    except ValueError:
        return None


def _class_index(value: float) -> int | None:
    """A class field as an index: an integer written as one (``3``, or ``3.0``, as numpy-written files have it;
    Ultralytics reads it as a float and casts), not negative; else None."""
    return int(value) if math.isfinite(value) and value.is_integer() and value >= 0 else None


def _text_or_problem(problems, path: Path, what: str) -> str | None:
    """The text of ``path``, or None with its problem recorded: it cannot be read, or is not text (not ``what``)."""
    try:
        return read_text(path)
    except OSError as e:
        problems.add(path, "unreadable", f"cannot read: {e.strerror or e}")
    except UnicodeDecodeError as e:
        problems.add(path, "malformed", f"{not_text(e)}, not {what}")
    return None


def _read_label_file(problems, label: Path, width: int, height: int, names: list[str], names_source):
    """The boxes (pixels, xyxy) and class indices of one label file (it exists), problems recorded."""
    text = _text_or_problem(problems, label, "a YOLO label file")
    if text is None:
        return None
    boxes, labels, seen = [], [], {}
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        written = " ".join(parts)
        if len(parts) < 5 or len(parts) == 6 or len(parts) % 2 == 0:
            why = ("a prediction with its confidence? a label line is 'class x_center y_center width "
                   "height'" if len(parts) == 6 else
                   "a polygon needs 'class x1 y1 x2 y2 …', pairs of coordinates" if len(parts) > 6 else
                   "expected 'class x_center y_center width height'")
            problems.add(label, "malformed", f"{len(parts)} fields in {written!r}: {why}", line=n)
            continue
        vals = parse_numbers(parts)
        if vals is None:
            problems.add(label, "malformed", f"not numbers: {written!r}", line=n)
            continue
        if not all(math.isfinite(v) for v in vals):
            problems.add(label, "bad_number", f"{written!r} has a non-finite number", line=n)
            continue
        c = _class_index(vals[0])
        if c is None:
            problems.add(label, "malformed", f"class {parts[0]!r} is not a class index (0, 1, …): {written!r}",
                         line=n)
            continue
        if c >= len(names):
            problems.add(label, "unknown_class", f"class {c} is not among the {count(len(names), 'name')} of "
                         f"{names_source} (indices 0-{len(names) - 1}): {written!r}", line=n)
            continue
        key = tuple(vals)
        if key in seen:  # Ultralytics: "duplicate labels removed"
            problems.add(label, "duplicate_box", f"{written!r} repeats line {seen[key]} (left out, as Ultralytics "
                         "leaves duplicate labels out)", severity=WARNING, line=n)
            continue
        seen[key] = n
        if len(vals) == 5:
            cx, cy, w, h = vals[1:]
            if w < 0 or h < 0:
                neg = " and ".join(k for k, v in (("width", w), ("height", h)) if v < 0)
                problems.add(label, "inverted_box", f"{written!r} has a negative {neg}", line=n)
                continue
            edges = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            xyxy = yolo_to_xyxy([cx, cy, w, h], width, height)[0]
        else:  # a polygon: its bounding box
            edges = polygon_box(vals[1:])
            xyxy = np.asarray(edges, dtype=np.float64) * [width, height, width, height]
        if not all(math.isfinite(float(v)) for v in xyxy):
            problems.add(label, "bad_number", f"{written!r} has a number too large for a box", line=n)
            continue
        if xyxy[2] <= xyxy[0] or xyxy[3] <= xyxy[1]:
            problems.add(label, "zero_area", f"{written!r} has zero area", severity=WARNING, line=n)
        if min(edges) < -ROUNDING or max(edges) > 1 + ROUNDING:
            beyond = edges[2] <= 0 or edges[3] <= 0 or edges[0] >= 1 or edges[1] >= 1
            problems.add(label, "outside_image", f"{written!r} {'lies wholly' if beyond else 'extends'} outside the "
                         f"image (normalised coordinates beyond [0, 1]; Ultralytics refuses the image's labels "
                         f"beyond 1 %)", severity=WARNING, line=n)
        boxes.append(xyxy)
        labels.append(c)
    return boxes, labels


# ------------------------------------------------------------------------------------------------ the layouts
def _images_in(folder: Path) -> list[Path]:
    """The image files of ``folder`` and its sub-folders (Ultralytics globs ``**/*.*``), sorted by path."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        out += [Path(root) / f for f in files if Path(f).suffix.lower() in IMAGE_SUFFIXES]
    return sorted(out)


def _listed_images(problems, listing: Path, root: Path) -> list[Path]:
    """The image paths of a split's ``.txt`` list (``./x`` against the list's folder, as Ultralytics reads it;
    other relative paths against the list's folder, then ``root``); lines that name no image file are reported."""
    text = _text_or_problem(problems, listing, "a list of images")
    if text is None:
        return []
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        name = line.strip()
        if not name:
            continue
        if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
            problems.add(listing, "malformed", f"{name!r} is not an image file name (left out)", severity=WARNING,
                         line=n)
            continue
        p = Path(name)
        if not p.is_absolute():
            candidates = [listing.parent / p, root / p]
            p = next((c for c in candidates if c.is_file()), candidates[0])
        out.append(Path(os.path.normpath(p)))
    return out


def _split_images(problems, yaml_path: Path, data: dict, split: str, root: Path,
                  folders: list[Path] | None = None) -> list[Path]:
    """The image files of the dataset YAML's ``split``, each entry resolved as Ultralytics resolves it; the images
    folders read whole are appended to ``folders``."""
    value = data.get(split)
    if split == "val" and value is None:
        value = data.get("validation")  # Ultralytics renames it 'val'
    if not value:
        have = [s for s in (*SPLITS, "minival") if data.get(s) or (s == "val" and data.get("validation"))]
        _fail(yaml_path, f"no split {split!r}" + (f" (its splits: {', '.join(have)})" if have else " (no splits)"),
              kind="not_found")
    entries = value if isinstance(value, list) else [value]
    images: list[Path] = []
    for entry in entries:
        if not isinstance(entry, str) or not entry.strip():
            _fail(yaml_path, f"'{split}' must be a path or a list of paths, got {entry!r}")
        p = root / entry
        if not p.exists() and entry.startswith("../"):  # Ultralytics: Roboflow's "../valid/images"
            p = root / entry[3:]
        p = Path(os.path.normpath(p))
        if p.is_dir():
            if folders is not None:
                folders.append(p)
            found = _images_in(p)
            if not found:
                problems.add(yaml_path, "missing_image", f"split {split!r}: no image files in {p}")
            images += found
        elif p.is_file():
            images += _listed_images(problems, p, root)
        else:
            why = f"; the dataset root ('path') {root} is not there either" if not root.exists() else ""
            _fail(yaml_path, f"split {split!r}: {entry!r} is not there ({p}){why}", kind="not_found")
    return images


def _root(yaml_path: Path, data: dict) -> Path:
    """The dataset root of a YAML: ``path`` (absolute; relative: against the YAML's folder, then the working folder,
    as Ultralytics reads it), else the YAML's folder."""
    given = data.get("path")
    if given in (None, ""):
        return yaml_path.parent
    if not isinstance(given, str):
        _fail(yaml_path, f"'path' must be a folder, got {given!r}")
    p = Path(given).expanduser()
    if p.is_absolute():
        return p
    beside = yaml_path.parent / p
    return beside if beside.exists() or not p.exists() else p


def _file_name(image: Path, root: Path) -> str:
    """The name an image goes by (predictions are matched to it, :mod:`detector.data.names`): its path relative to
    the dataset root where it lies inside it, else as found."""
    rel = os.path.relpath(image, root)
    return Path(rel).as_posix() if not rel.startswith("..") else image.as_posix()


def is_yolo_path(path: Path) -> bool:
    """Whether ``path`` looks like YOLO annotations (for :func:`detector.data.readers.detect_format`): a dataset YAML
    (a ``.yaml``/``.yml`` file, or a folder holding one with ``names``); a folder holding ``images/`` and
    ``labels/``; a folder whose first label file (``*.txt``: its own, its ``labels/``'s or the labels folder of its
    images') holds YOLO lines; or (a ``.txt`` file that lists images) class names beside it."""
    if path.is_file():
        if path.suffix.lower() in YAML_SUFFIXES:
            return True
        return path.suffix.lower() == ".txt" and _names_near(path.parent)
    if _yaml_with_names(path) is not None or ((path / "images").is_dir() and (path / "labels").is_dir()):
        return True
    for folder in (path, path / "labels", label_path(path / "x.jpg").parent):
        if folder.is_dir() and _first_label_is_yolo(folder):
            return True
    return False


def _names_near(folder: Path) -> bool:
    try:
        return names_beside(folder) is not None
    except DatasetError:
        return True  # one is there (broken): the reader says what is wrong with it


def _first_label_is_yolo(folder: Path) -> bool:
    try:
        first = next((p for p in sorted(folder.iterdir()) if p.suffix.lower() == ".txt" and p.name not in
                      NAMES_FILES and p.is_file()), None)
    except OSError:
        return False
    if first is None:
        return False
    lines = [ln.split() for ln in text_head(first).splitlines() if ln.strip()][:3]
    if not lines:
        return False
    for parts in lines:
        vals = parse_numbers(parts)
        if vals is None or len(parts) < 5 or _class_index(vals[0]) is None:
            return False
    return True


def read_yolo(path, *, split: str | None = None, images=None, strict: bool = True) -> Dataset:
    """Read YOLO annotations (module docstring) into a :class:`Dataset` of format ``yolo``.

    ``path``: a dataset YAML (its ``split``: default :data:`DEFAULT_SPLIT`, ``val``, as ``yolo val``; the split read
    is :attr:`Dataset.split`); a folder holding one (``data.yaml``, or the one ``*.yaml`` with ``names``); an images
    folder (that split itself: its label files by :func:`label_path`); a labels folder (its images folder, the
    ``labels`` → ``images`` counterpart, read as such where it exists, so that images without a label file count;
    else each label file's image beside it or in ``images``); or a split's ``.txt`` list of images. A folder or list
    takes its class names from a ``classes.txt`` / ``obj.names`` / dataset YAML beside it (:func:`names_beside`);
    without one it is an error saying so.

    Image ids are positions 1, 2, … (``id_source`` "position"); ``file_name`` the image's path relative to the
    dataset root (the YAML's ``path``, or the folder given). Raises :class:`DatasetError` for what makes the whole
    set unreadable (no names, a split that is not there, a broken YAML); with ``strict`` for the first error of a
    file, else records it (module docstring)."""
    path = Path(path)
    problems = _Problems(strict)
    chosen = None
    whole: list[Path] = []  # the images folders read whole (their labels folders are looked through for orphans)
    if path.is_dir() and (y := _yaml_with_names(path)) is not None:
        path = y
    if path.is_file() and path.suffix.lower() in YAML_SUFFIXES:
        data = _load_yaml(path)
        if not isinstance(data, dict):
            _fail(path, f"not a dataset YAML: expected a mapping with 'names' and splits, got {type(data).__name__}")
        names, names_source = yolo_names(data, path), path
        chosen = split or DEFAULT_SPLIT
        root = _root(path, data)
        image_files = _split_images(problems, path, data, chosen, root, whole)
        pairs = [(im, label_path(im)) for im in image_files]
    else:
        folder = path.parent if path.is_file() else path
        found = names_beside(folder)
        if found is None:
            looked = ", ".join(str(f) for f in [folder, *list(folder.parents)[:2]])
            _fail(path, "YOLO labels give class indices, and no class names were found for them: put a classes.txt "
                  "(one name a line, in index order) or the dataset's data.yaml beside them (looked in "
                  f"{looked}), or give the data.yaml itself", kind="not_found")
        names, names_source = found
        root = folder
        if path.is_file():
            pairs = [(im, label_path(im)) for im in _listed_images(problems, path, folder)]
        else:
            counterpart = _swap_last(path, "labels", "images")
            if counterpart is not None and counterpart.is_dir() and _images_in(counterpart):
                pairs = [(im, label_path(im)) for im in _images_in(counterpart)]
                root = counterpart
                whole.append(counterpart)
            elif _images_in(path):
                pairs = [(im, label_path(im)) for im in _images_in(path)]
                whole.append(path)
            else:
                pairs = _pairs_of_labels(problems, path, images)
    classes = _categories(names, names_source, problems)
    _orphan_labels(problems, [label for _, label in pairs], whole)
    shared: dict[Path, Path] = {}
    for image, label in pairs:  # a.jpg and a.png: one label file a.txt, read for both (Ultralytics does the same)
        if image is not None and shared.setdefault(label, image) != image:
            problems.add(label, "duplicate_image", f"the label file of both {shared[label].name} and {image.name} "
                         "(images of one stem share it): its boxes are read for each; rename one of the images",
                         severity=WARNING)
    records = []
    for image_id, (image, label) in enumerate(pairs, start=1):
        if image is None:
            continue
        try:
            width, height = image_size(image)
        except (UnidentifiedImageError, OSError) as e:
            why = "not found" if not image.exists() else f"cannot be read ({getattr(e, 'strerror', None) or e})"
            problems.add(label if label.is_file() else image, "missing_image",
                         f"image {image} {why}: YOLO boxes are fractions of the image's size, which it gives")
            continue
        boxes, labels = [], []
        if label.is_file() or label.exists():
            read = _read_label_file(problems, label, width, height, names, names_source)
            if read is None:
                continue
            boxes, labels = read
        records.append(_boxes_record(image_id, _file_name(image, root), image, width, height, boxes, labels,
                                     [False] * len(boxes), [False] * len(boxes), label))
    return Dataset("yolo", path, tuple(classes), tuple(records), tuple(problems.items), split=chosen)


def _orphan_labels(problems, labels: list[Path], whole: list[Path]) -> None:
    """Warn of each label file of the split whose image is not in the ``images`` folder that mirrors its folder
    (renamed or deleted: its boxes are not read; trial 40: said nothing): those in the ``labels`` folders of the
    label files read, and anywhere in the ``labels`` counterpart of an images folder read ``whole`` (sub-folders
    too: trial 41). A split listed by a ``.txt`` file may leave other images out: only a label file without any
    image is warned of."""
    used = set(labels)
    folders = {p.parent for p in used if "labels" in p.parts}
    for images_folder in whole:
        top = label_path(images_folder / "x.jpg").parent
        if top != images_folder and top.is_dir():
            folders.update(Path(r) for r, _, _ in os.walk(top))
    for folder in sorted(folders):
        images = _swap_last(folder, "labels", "images")
        try:
            found = sorted(f for f in folder.iterdir() if f.suffix.lower() == ".txt" and f.name not in NAMES_FILES)
        except OSError:
            continue
        for f in found:
            if f not in used and not any((images / (f.stem + s)).is_file() for s in IMAGE_EXTENSIONS):
                problems.add(f, "missing_image", f"a label file of no image (none named {f.stem}.* in {images}: "
                             "renamed or deleted?): its boxes are not read", severity=WARNING)


def _pairs_of_labels(problems, folder: Path, images) -> list[tuple[Path | None, Path]]:
    """A labels folder without an images counterpart: each label file (sub-folders too) with its image — in the
    ``images`` counterpart of its path, beside it, or in ``images`` (``--images``) — by the label's stem."""
    labels = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        labels += [Path(root) / f for f in files if f.lower().endswith(".txt") and f not in NAMES_FILES]
    if not labels:
        problems.add(folder, "missing_annotation", "no YOLO label files (*.txt) or images in this folder")
    out = []
    for label in sorted(labels):
        bases = _image_of_label(label) + ([Path(images) / label.stem] if images is not None else [])
        image = next((b.with_name(b.name + s) for b in bases for s in IMAGE_EXTENSIONS
                      if b.with_name(b.name + s).is_file()), None)
        if image is None:
            problems.add(label, "missing_image", "no image file of this label file (looked for "
                         f"{', '.join(str(b) + '.*' for b in bases)}): YOLO boxes are fractions of the image's size, "
                         "which it gives")
        out.append((image, label))
    return out
