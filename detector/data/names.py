"""Which ground-truth image an image name refers to: predictions and lists name images by path, ground truth by
whatever its format keeps.

Names on both sides come in many forms: ``detect run`` writes the path relative to its input folder
(``cam_a/0001.jpg``); COCO JSON has bare names or relative paths, our split files absolute paths; ILSVRC lists and
XML give stems without an extension (``ILSVRC2012_val_00000001``); an ILSVRC evaluation list may carry folders. The
rule (issue 12):

- a name is split into path components at ``/`` or ``\\`` (in Unicode NFC form); the last component is compared by
  its stem (an image extension — :data:`IMAGE_SUFFIXES`, any case — removed; other dots are part of the name), the
  others exactly;
- two names *fit* when the shorter is a trailing part of the longer (``0001.jpg`` fits ``/data/cam_a/0001.JPG``;
  ``cam_a/0001.jpg`` does not fit ``cam_b/0001.jpg``);
- among the ground-truth images a name fits, the one agreeing on the most trailing components wins, then the one
  whose last component has the same extension, in any case (``x.jpg`` and ``x.JPG`` prefer ``x.jpg`` to ``x.png``),
  then the one whose last component is equal;
- a name that fits two ground-truth images equally well is ambiguous: :class:`AmbiguousImageName`, naming both.

Ground truth is indexed by the stem of its last component, so a look-up costs a dictionary access and a comparison
with the few images of that stem.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

__all__ = ["IMAGE_SUFFIXES", "UNDECODED_IMAGE_SUFFIXES", "name_parts", "image_stem", "ImageNameIndex", "AmbiguousImageName", "how_to_tell_apart"]

# the image files the tool reads — a folder's, a path given, a name's extension — decoded by Pillow (a GIF's or a
# multi-page TIFF's first frame); torchvision's ImageFolder reads the same but GIF; .jpe and .jfif are JPEG's other
# suffixes (Pillow registers them; Windows saves .jfif), AVIF Pillow decodes since 11.2 (trial 55: skipped unsaid)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".webp", ".avif", ".tif", ".tiff", ".gif")
# image files Pillow does not decode (HEIC/HEIF: iPhone photos; it needs a plugin): a folder's are listed under a run's
# errors with what to do, not skipped without a word (trial 55)
UNDECODED_IMAGE_SUFFIXES = (".heic", ".heif")


def name_parts(name: str) -> tuple[str, ...]:
    """Path components of an image name, split at ``/`` or ``\\`` (names written on Windows); empty and ``.``
    components dropped; Unicode in NFC form, so ``café.jpg`` written decomposed (NFD, as macOS names files) equals
    the composed name an annotation tool wrote. ``"/data/./a/x.jpg"`` → ``("data", "a", "x.jpg")``."""
    name = unicodedata.normalize("NFC", str(name))
    return tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))


def _strip_suffix(part: str) -> str:
    dot = part.rfind(".")
    return part[:dot] if dot > 0 and part[dot:].lower() in IMAGE_SUFFIXES else part


def image_stem(name: str) -> str:
    """The last path component of ``name`` without its image extension: ``"cam_a/0001.JPG"`` → ``"0001"``,
    ``"ILSVRC2012_val_00000001"`` → itself, ``"img.v2.png"`` → ``"img.v2"``."""
    parts = name_parts(name)
    return _strip_suffix(parts[-1]) if parts else ""


def how_to_tell_apart(first: str, second: str) -> str:
    """The advice for two image names that fit one name equally well: longer paths, or — when they differ only in
    Unicode normalisation (``café.jpg`` composed and decomposed, two files in one folder) — renaming one."""
    if first != second and unicodedata.normalize("NFC", first) == unicodedata.normalize("NFC", second):
        return "they differ only in Unicode normalisation (NFC and NFD): rename one of the files"
    return "name them by longer paths"


class AmbiguousImageName(ValueError):
    """A name fits two ground-truth images equally well (``first`` and ``second``, their names)."""

    def __init__(self, name: str, first: str, second: str):
        super().__init__(f"image {name!r} fits two ground-truth images equally well: {first!r} and {second!r}"
                         + ("" if how_to_tell_apart(first, second).startswith("name") else
                            f" ({how_to_tell_apart(first, second)})"))
        self.name, self.first, self.second = name, first, second


class ImageNameIndex:
    """Ground-truth image names (in order), indexed for :meth:`match`."""

    def __init__(self, names: Sequence[str]):
        self.names = [str(n) for n in names]
        self._by_stem: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        for i, n in enumerate(self.names):
            parts = name_parts(n)
            if parts:
                self._by_stem.setdefault(_strip_suffix(parts[-1]), []).append((i, parts))

    def match(self, name: str) -> tuple[int, tuple[int, bool, bool]] | None:
        """``(index of the ground-truth image, score)`` for ``name``, or ``None`` when it fits none. ``score`` is
        ``(trailing components agreeing, same extension in any case, last component equal)``; a higher one fits
        better.

        Raises :class:`AmbiguousImageName` when two ground-truth images fit equally well."""
        parts = name_parts(name)
        if not parts:
            return None
        best, best_score, tie = None, None, None
        for i, gparts in self._by_stem.get(_strip_suffix(parts[-1]), ()):
            n = min(len(parts), len(gparts))
            if any(parts[-k] != gparts[-k] for k in range(2, n + 1)):
                continue  # they part somewhere along the path: other folders, other images
            score = (n, parts[-1].lower() == gparts[-1].lower(), parts[-1] == gparts[-1])
            if best_score is None or score > best_score:
                best, best_score, tie = i, score, None
            elif score == best_score:
                tie = i
        if tie is not None:
            raise AmbiguousImageName(str(name), self.names[best], self.names[tie])
        return None if best is None else (best, best_score)
