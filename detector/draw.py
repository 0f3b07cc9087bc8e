"""Pictures of detections: each image with its labelled boxes."""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .data.io import atomic_write

__all__ = ["draw_detections", "write_drawing"]


def _color(label: int) -> tuple[int, int, int]:
    h = (label * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def _text_color(fill: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever contrasts more with ``fill`` (WCAG relative luminance): black text on the dark
    blue of ``person`` read at 3.3:1 (trial 51); the better of the two is at least 4.5:1 on any colour."""
    c = [v / 255 for v in fill]
    lum = sum(w * (v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4)
              for w, v in zip((0.2126, 0.7152, 0.0722), c))
    return (0, 0, 0) if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else (255, 255, 255)


def draw_detections(image: np.ndarray, boxes, scores, labels, names) -> Image.Image:
    """RGB ``uint8`` image with each xyxy box outlined and labelled ``name score``; ``names[label]`` gives the
    text of a label."""
    img = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(img)
    width = max(2, round(max(img.size) / 300))
    # labels grow with the image as the lines do: Pillow's default font is 10 px high, unreadable on a 6000 x 4000
    # photo (trial 42); its FreeType version takes a size (Pillow 10.1+), the bitmap one where FreeType is missing
    size = max(10, round(max(img.size) / 80))
    try:
        font = ImageFont.load_default(size=size) if size > 10 else ImageFont.load_default()
    except (TypeError, ImportError, OSError):  # an older Pillow or one without FreeType: the fixed bitmap font
        font = ImageFont.load_default()
    order = np.argsort(np.asarray(scores))  # strongest drawn last, on top
    for i in order:
        draw.rectangle([float(v) for v in boxes[i]], outline=_color(int(labels[i])), width=width)
    # labels after every box (no outline crosses one), placed strongest first where no stronger box's label already
    # is (trial 51, 56: on a crowded picture labels hid each other), then drawn weakest first
    placed: dict[int, tuple[float, float, float, float]] = {}
    for i in order[::-1]:
        text = f"{names[int(labels[i])]} {float(scores[i]):.2f}"
        tb = draw.textbbox((0, 0), text, font=font)
        placed[int(i)] = _label_place(boxes[i], tb[2] - tb[0] + 4, tb[3] - tb[1] + 4, img.size, placed.values())
    for i in order:
        color = _color(int(labels[i]))
        tx, ty, tx2, ty2 = placed[int(i)]
        draw.rectangle([tx, ty, tx2, ty2], fill=color)
        draw.text((tx + 2, ty + 1), f"{names[int(labels[i])]} {float(scores[i]):.2f}", fill=_text_color(color),
                  font=font)
    return img


def _label_place(box, w: float, h: float, size: tuple[int, int], taken) -> tuple[float, float, float, float]:
    """Where a label ``w`` x ``h`` px goes for ``box`` (xyxy) in a picture of ``size`` (width, height): the first of
    above its top-left corner, inside its top, below its bottom, inside its bottom that stays in the picture and
    overlaps no rectangle of ``taken``; when each overlaps one, the one whose area covered by them is least (the
    first of equals: trial 59 — it was always the first, above the box, however much of it stronger labels hid).
    Each is moved left to fit when the box is at the right edge (trial 51). Returns (x1, y1, x2, y2)."""
    x1, y1, _, y2 = (float(v) for v in box)
    tx = max(0.0, min(x1, size[0] - 1 - w))
    ys = [y for y in (y1 - h, y1, y2, y2 - h) if 0 <= y and y + h <= size[1] - 1]
    ys = ys or [max(0.0, min(y1, size[1] - 1 - h))]
    taken = list(taken)
    covered = []
    for ty in ys:
        r = (tx, ty, tx + w, ty + h)
        area = sum(max(0.0, min(r[2], o[2]) - max(r[0], o[0])) * max(0.0, min(r[3], o[3]) - max(r[1], o[1]))
                   for o in taken)
        if not any(r[0] < o[2] and o[0] < r[2] and r[1] < o[3] and o[1] < r[3] for o in taken):
            return r
        covered.append(area)
    ty = ys[covered.index(min(covered))]
    return (tx, ty, tx + w, ty + h)


def write_drawing(folder, name: str, image: np.ndarray, boxes, scores, labels, names, threshold: float) -> Path:
    """Write the picture of one image's detections scoring at least ``threshold`` to ``folder / name``: the same
    relative path and file name as the input (so ``x.jpg`` and ``x.png`` stay two pictures), in the format its
    suffix names (JPEG and WebP at quality 90), written atomically. Raises ``ValueError`` for a suffix no image format
    writes and ``OSError`` when the file cannot be written."""
    target = Path(folder) / name
    fmt = Image.registered_extensions().get(target.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:  # .psd: Pillow reads the format but writes none (trial 58: KeyError)
        raise ValueError(f"no image format writes {target.suffix!r} files")
    shown = np.asarray(scores) >= threshold
    picture = draw_detections(image, boxes[shown], scores[shown], labels[shown], names)
    options = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
    return atomic_write(target, lambda f: picture.save(f, format=fmt, **options))
