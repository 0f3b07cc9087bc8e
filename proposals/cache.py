"""An on-disk cache of region proposals, keyed by image CONTENT and proposer config.

A key is ``<sha1 of the image file's bytes>-<hash of the config>``: renaming or copying an image still hits, editing
its pixels or changing any config field misses. The config hash covers the dataclass's class name and every field
(``dataclasses.asdict``), plus :data:`CACHE_VERSION`. Entries are ``float32 [R, 4]`` xyxy arrays (original-image
coordinates, the project's box convention) stored as ``<root>/<key[:2]>/<key>.npy``, written to a temporary file in
the same folder and renamed into place, so a reader never sees half an entry and parallel workers may share a root.

Default root: ``$DETECT_CACHE_DIR`` if that variable is set, else ``~/.cache/detect/proposals``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from detector.data.io import atomic_write

__all__ = ["CACHE_VERSION", "ProposalCache", "default_cache_dir", "config_digest", "content_digest"]

logger = logging.getLogger(__name__)

# bump when the stored form, the meaning of a config field, or the pixels a file decodes to change.
# 2: files are decoded by detector.data.images.load_image (EXIF orientation applied, 16-bit PNG scaled by 1/257,
#    transparency over white) instead of OpenCV's imread: boxes of version 1 were computed on other pixels.
CACHE_VERSION = 2


def default_cache_dir() -> Path:
    """``$DETECT_CACHE_DIR`` if set (and not empty), else ``~/.cache/detect/proposals``."""
    if os.environ.get("DETECT_CACHE_DIR"):
        return Path(os.environ["DETECT_CACHE_DIR"]).expanduser()
    return Path.home() / ".cache" / "detect" / "proposals"


def content_digest(image) -> str:
    """sha1 (hex) of an image file's bytes; ``image`` is a path or the bytes themselves."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return hashlib.sha1(image).hexdigest()
    h = hashlib.sha1()
    with open(image, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def config_digest(config) -> str:
    """A short stable hash of a config dataclass: its class name, every field, and :data:`CACHE_VERSION`."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config must be a dataclass instance, got {type(config).__name__}")
    fields = dataclasses.asdict(config)
    blob = json.dumps({"class": type(config).__qualname__, "fields": fields, "version": CACHE_VERSION},
                      sort_keys=True, default=repr)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()[:16]


class ProposalCache:
    """Proposals on disk under ``root`` (see the module docstring). Picklable, so worker processes can use it.

    ``get`` returns None on a miss (or an unreadable entry, which is logged and ignored); ``put`` stores
    ``float32 [R, 4]`` boxes and returns the entry's path.
    """

    def __init__(self, root=None):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()

    def __repr__(self) -> str:
        return f"ProposalCache({str(self.root)!r})"

    # -- keys
    def key(self, image, config) -> str:
        """The key of ``image`` (a file path, or the file's bytes) under ``config``."""
        return f"{content_digest(image)}-{config_digest(config)}"

    def path_for(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    # -- by image and config
    def get(self, image, config) -> np.ndarray | None:
        """Cached boxes for ``image`` (path or bytes) under ``config``, or None."""
        return self.get_key(self.key(image, config))

    def put(self, image, config, boxes) -> Path:
        """Store ``boxes`` (``[R, 4]`` xyxy) for ``image`` (path or bytes) under ``config``."""
        return self.put_key(self.key(image, config), boxes)

    def __contains__(self, item) -> bool:
        image, config = item
        return self.path_for(self.key(image, config)).is_file()

    # -- by key
    def get_key(self, key: str) -> np.ndarray | None:
        path = self.path_for(key)
        try:
            boxes = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError) as e:
            logger.warning("ignoring unreadable proposal cache entry %s: %s", path, e)
            return None
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            logger.warning("ignoring proposal cache entry %s: shape %s is not [R, 4]", path, boxes.shape)
            return None
        return boxes.astype(np.float32, copy=False)

    def put_key(self, key: str, boxes) -> Path:
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        path = self.path_for(key)
        atomic_write(path, lambda f: np.save(f, boxes, allow_pickle=False))
        return path

    def clear(self) -> int:
        """Delete every entry under ``root``; returns how many were removed."""
        n = 0
        if self.root.is_dir():
            for p in self.root.glob("??/*.npy"):
                p.unlink(missing_ok=True)
                n += 1
        return n
