"""The one in-memory dataset form every reader produces and every stage consumes.

Shapes: N objects in an image. ``boxes`` is ``float64 [N, 4]`` continuous xyxy in original-image pixels, the
numbers of the file unrounded (see :mod:`detector.data.boxes`; code that feeds a network casts to ``float32``
itself), ``labels`` is ``int64 [N]`` indexing :attr:`Dataset.classes`, ``difficult`` and ``iscrowd`` are
``bool [N]``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .names import image_stem
from .vocab import Category

__all__ = ["ImageAnnotation", "Dataset", "Problem", "DatasetError", "ERROR", "WARNING", "wrong_sizes",
           "size_mismatch"]

ERROR = "error"  # the input is broken: readers raise in strict mode, ``detect inspect`` lists it
WARNING = "warning"  # the input is readable but suspicious: always listed, never fatal


@dataclass(frozen=True)
class Problem:
    """Something wrong with the input, located as precisely as the format allows."""

    file: str  # the file (or folder) at fault
    kind: str  # malformed | inverted_box | zero_area | outside_image | unknown_class | missing_image | ...
    message: str
    severity: str = ERROR
    line: int | None = None  # 1-based line in ``file``, where known
    obj: int | None = None  # 0-based index of the object among the file's <object> elements (VOC, ILSVRC XML);
    #                         COCO names its annotations[i] in the message, Penn-Fudan its line

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.obj is not None:
            where += f" (object {self.obj})"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict:
        d = {"file": self.file, "kind": self.kind, "severity": self.severity, "message": self.message}
        if self.line is not None:
            d["line"] = self.line
        if self.obj is not None:
            d["object"] = self.obj
        return d


class DatasetError(ValueError):
    """Raised by a strict reader on broken input; ``problem`` says what and where."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True, eq=False)
class ImageAnnotation:
    """Ground truth of one image."""

    image_id: int | str  # COCO id (an integer or a string, as the file has it), ILSVRC evaluation-list index, or
    #                      1-based position for other formats (see Dataset.id_source)
    file_name: str  # the image's name or path as the ground truth gives it (predictions are matched to it:
    #                 detector.data.names); VOC: the annotation file's id + the image's extension (as the devkit)
    path: Path | None  # the image file found on disk, or None where it could not be found
    width: int
    height: int
    boxes: np.ndarray  # float64 [N, 4] xyxy as read (float32 accepted)
    labels: np.ndarray  # int64 [N], index into Dataset.classes
    difficult: np.ndarray  # bool [N]; VOC "difficult" (ignored by VOC-style evaluation)
    iscrowd: np.ndarray  # bool [N]; COCO crowd regions
    source: str = ""  # annotation file this record came from

    def __post_init__(self):
        n = len(self.boxes)
        if self.boxes.shape != (n, 4) or not (len(self.labels) == len(self.difficult) == len(self.iscrowd) == n):
            raise ValueError(f"{self.file_name}: inconsistent annotation arrays")

    @property
    def counted(self) -> np.ndarray:
        """bool [N]: the objects every evaluation counts as positives — not VOC ``difficult`` ones, not COCO crowd
        regions (neither is a miss when not found; the devkits and pycocotools leave both out)."""
        return ~(self.difficult | self.iscrowd)

    @property
    def stem(self) -> str:
        """The last path component without its image extension (ILSVRC names have none)."""
        return image_stem(self.file_name)

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A whole dataset: its classes, its images and the problems met while reading it."""

    format: str  # coco | ilsvrc | voc | pennfudan | yolo | labelme
    source: Path  # what was read
    classes: tuple[Category, ...]
    images: tuple[ImageAnnotation, ...]
    problems: tuple[Problem, ...] = field(default=())
    id_source: str = "position"  # what ImageAnnotation.image_id means: "file" (the file's own ids: COCO JSON),
    #                              "image_list" (an ILSVRC evaluation list's indices) or "position" (1-based order
    #                              of reading: meaningless to another file, so predictions are never matched by it)
    split: str | None = None  # the split read of a YOLO dataset YAML ("val"), None for the other formats and paths

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_boxes(self) -> int:
        return sum(len(im) for im in self.images)

    def class_counts(self) -> dict[str, int]:
        """Boxes per class name (classes with at least one box), most frequent first, ties by name. Two classes of
        one name (two COCO categories, kept apart) are told apart by their ids: ``person (id 1)``."""
        counts: Counter[int] = Counter()
        for im in self.images:
            counts.update(im.labels.tolist())
        names = Counter(c.name for c in self.classes)

        def name(i: int) -> str:
            c = self.classes[i]
            return f"{c.name} (id {c.source_id})" if names[c.name] > 1 and c.source_id is not None else c.name

        named = [(name(i), n) for i, n in counts.items()]
        return dict(sorted(named, key=lambda kv: (-kv[1], kv[0])))


def size_mismatch(im: ImageAnnotation, size: tuple[int, int], source="") -> str | None:
    """Why the boxes of ``im`` (an annotated image with a file) cannot be used on that file, whose decoded size is
    ``size`` (width, height, as ``load_image`` shows it: EXIF orientation applied), else None: its annotation gives
    another size, so its boxes are in other pixels (a copy resized after annotating; a photo annotated as stored).
    For training (detectron2 raises its ``SizeMismatchError`` there), by :func:`wrong_sizes`' rule; ``source``: the
    annotation file, when the image does not record its own."""
    wrong, hint = wrong_sizes([(str(im.path), size, im)])
    hint = hint.replace(f" ({im.path})", "", 1)  # the one image, named already (trial 34: twice)
    return f"{wrong[0]} in {im.source or source}: its boxes are in other pixels than the image's{hint}" if wrong \
        else None


def wrong_sizes(images: Iterable[tuple[str, tuple[int, int] | None, ImageAnnotation]]) -> tuple[list[str], str]:
    """Of ``(name, (width, height) as run or None, its ground-truth image)`` triples, those whose size differs from
    the ground truth's — boxes in other pixels: a resized copy, another image of that name — each as ``"a.png 60x45
    (ground truth: a.jpg 120x90)"``; and a hint to append to the refusal naming those with width and height swapped
    (likely an EXIF orientation: images are read as a viewer shows them; the file itself is not looked at here, so
    the hint says "if"), else ``""``. Unknown sizes and ground truth of size 0 are not checked. One rule for
    ``detect eval`` and ``detect run``/``merge --coco-gt``."""
    wrong, swapped = [], []
    for name, size, im in images:
        if size is not None and im.width > 0 and im.height > 0 and tuple(size) != (im.width, im.height):
            wrong.append(f"{name} {size[0]}x{size[1]} (ground truth: {im.file_name} {im.width}x{im.height})")
            if tuple(size) == (im.height, im.width):
                swapped.append(name)
    shown = ", ".join(swapped[:3]) + (f" and {len(swapped) - 3} more" if len(swapped) > 3 else "")
    hint = (f"; width and height are swapped ({shown}): if the image has an EXIF orientation tag, detect applies it "
            "as a viewer does, while the ground truth gives the stored pixels' sides") if swapped else ""
    return wrong, hint
