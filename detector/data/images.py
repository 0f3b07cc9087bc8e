"""Finding and decoding input images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["IMAGE_SUFFIXES", "ImageError", "list_images", "load_image"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class ImageError(ValueError):
    """An input image that cannot be used; the message names the file."""


def list_images(path) -> list[Path]:
    """Images named by ``path``: a folder (searched recursively, sorted), one image file, or a text file listing
    image paths one per line (relative paths are relative to the list's folder; blank lines and ``#`` comments are
    skipped). Raises ``ImageError`` when nothing usable is named."""
    path = Path(path)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise ImageError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        return found
    if not path.exists():
        raise ImageError(f"{path}: no such file or folder")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return [path]
    if path.suffix.lower() in (".txt", ".lst", ".list"):
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                p = Path(line)
                out.append(p if p.is_absolute() else path.parent / p)
        if not out:
            raise ImageError(f"{path}: the list names no images")
        return out
    raise ImageError(f"{path}: not an image ({', '.join(IMAGE_SUFFIXES)}), a folder, or a .txt list of images")


def load_image(path) -> np.ndarray:
    """Decode an image file → RGB ``uint8`` H x W x 3. Raises ``ImageError`` saying why it cannot."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            arr = np.array(img.convert("RGB"))  # a writable copy
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: cannot decode image (not an image file, or corrupt)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{path}: cannot decode image ({e})") from None
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageError(f"{path}: empty image")
    return arr
