"""What ``detect inspect`` reports about a dataset: counts, box sizes and problems (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from PIL import UnidentifiedImageError

from .boxes import box_area
from .dataset import WARNING, Dataset, ImageAnnotation, Problem
from .images import ImageError, image_size, load_image

__all__ = ["Summary", "summarize", "check_image_files", "SMALL_AREA", "LARGE_AREA"]

SMALL_AREA = 32**2  # COCO: small < 32², medium in [32², 96²), large >= 96² (box area in pixels)
LARGE_AREA = 96**2


@dataclass(frozen=True)
class Summary:
    format: str
    source: str
    images: int
    boxes: int
    classes: dict[str, int]  # class name -> boxes, classes with boxes only, most frequent first
    box_sizes: dict[str, int]  # small / medium / large
    difficult: int
    crowd: int
    images_without_boxes: tuple[str, ...]  # file names
    problems: tuple[Problem, ...]
    split: str | None = None  # the split read of a YOLO dataset YAML

    def to_dict(self) -> dict:
        return {
            "format": self.format,
            "source": self.source,
            **({"split": self.split} if self.split is not None else {}),
            "images": self.images,
            "boxes": self.boxes,
            "classes": self.classes,
            "box_sizes": self.box_sizes,
            "difficult": self.difficult,
            "crowd": self.crowd,
            "images_without_boxes": list(self.images_without_boxes),
            "problems": [p.to_dict() for p in self.problems],
        }


def _check_one(im: ImageAnnotation, decode: bool = False) -> list[Problem]:
    if im.path is None:
        return [Problem(im.source or im.file_name, "missing_image", f"image file {im.file_name!r} not found",
                        severity=WARNING)]
    try:
        if decode:  # every pixel, as training and `detect run` read it: a truncated or damaged file shows here
            h, w = load_image(im.path).shape[:2]
        else:
            w, h = image_size(im.path)  # as the image is decoded and run: EXIF orientation applied
    except ImageError as e:
        why = str(e).removeprefix(f"{im.path}: ")
        return [Problem(str(im.path), "unreadable_image", why, severity=WARNING)]
    except (UnidentifiedImageError, OSError) as e:
        return [Problem(str(im.path), "unreadable_image", f"cannot read image: {e}", severity=WARNING)]
    if im.width and im.height and (w, h) != (im.width, im.height):
        return [Problem(im.source or str(im.path), "size_mismatch",
                        f"annotation says {im.width}x{im.height} but {im.path.name} is {w}x{h}", severity=WARNING)]
    return []


def check_image_files(ds: Dataset, decode: bool = False) -> Iterator[list[Problem]]:
    """Per image (in order): problems with its file — missing, unreadable, or of another size than annotated.
    Reads image headers only, unless ``decode``: then every image is decoded as training reads it (slower; finds
    files truncated or damaged after their header). A generator, so the caller can show progress."""
    for im in ds.images:
        yield _check_one(im, decode)


def summarize(ds: Dataset, image_problems: list[Problem] | None = None) -> Summary:
    """Counts and problems of ``ds``. ``image_problems`` (from :func:`check_image_files`) are appended; when every
    image file is missing they are folded into one problem (an annotations-only dataset)."""
    small = medium = large = difficult = crowd = 0
    empty = []
    for im in ds.images:
        if len(im) == 0:
            empty.append(im.file_name)
        a = box_area(im.boxes)
        small += int((a < SMALL_AREA).sum())
        large += int((a >= LARGE_AREA).sum())
        medium += int(((a >= SMALL_AREA) & (a < LARGE_AREA)).sum())
        difficult += int(im.difficult.sum())
        crowd += int(im.iscrowd.sum())
    problems = list(ds.problems)
    image_problems = list(image_problems or [])
    missing = [p for p in image_problems if p.kind == "missing_image"]
    if ds.images and len(missing) == len(ds.images):
        image_problems = [p for p in image_problems if p.kind != "missing_image"]
        image_problems.insert(0, Problem(str(ds.source), "missing_image",
                                         f"none of the {len(ds.images)} image files was found (annotations only; "
                                         "pass --images DIR if they are elsewhere)", severity=WARNING))
    problems.extend(image_problems)
    return Summary(
        format=ds.format,
        source=str(ds.source),
        images=len(ds.images),
        boxes=ds.num_boxes,
        classes=ds.class_counts(),
        box_sizes={"small": small, "medium": medium, "large": large},
        difficult=difficult,
        crowd=crowd,
        images_without_boxes=tuple(empty),
        problems=tuple(problems),
        split=ds.split,
    )
