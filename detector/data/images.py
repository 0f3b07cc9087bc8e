"""Finding and decoding input images.

:func:`load_image` gives every stage the picture a viewer shows, as RGB ``uint8``:

- the EXIF orientation is applied (``PIL.ImageOps.exif_transpose``, as detectron2's ``read_image`` and labelling
  tools do), so the width and height are the displayed ones (a phone photo stored 4032 × 3024 with orientation 6
  is 3024 wide and 4032 high);
- 16-bit samples (PNG) are scaled to 8 bits as the format implies: ``round(v / 257)``, so 65535 → 255 (PNG, 11.3.1:
  samples are fractions of ``2^depth − 1``);
- grey, palette, CMYK and other modes are converted to RGB by Pillow; transparency (an alpha channel, or a
  palette's or grey image's transparent colour) is composited over white, as a viewer shows it on a white page.

:func:`scan_images` names each input by its path relative to the input root (``file_name`` in ``boxes.json``).
"""

from __future__ import annotations

import errno
import io
import logging
import os
import re
import stat
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .boxes_json import is_image_list_line
from .io import binary_kind, read_text
from .names import IMAGE_SUFFIXES, UNDECODED_IMAGE_SUFFIXES

logger = logging.getLogger(__name__)

# Pillow's DecompressionBombWarning (an image over Image.MAX_IMAGE_PIXELS) does not name the file: load_image logs its
# own warning that does (trial 17). Filtered once here rather than caught per image: warnings.catch_warnings is not
# thread-safe, and images are decoded on threads (--decode-threads).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# Pillow's warnings about a damaged EXIF block ("Corrupt EXIF data. Expecting to read 12 bytes but only got 4") do
# not name the file either; _exif records them while it parses an image's EXIF and logs them with the file's name.
# catch_warnings swaps the process's warning state: the lock keeps our decoding threads from interleaving there.
_EXIF_LOCK = threading.Lock()
_EXIF_SAID: set[tuple[str, str]] = set()  # (file, warning) logged already in this process: training decodes an image
#                                          every epoch (trial 34: six times in a one-epoch run)

__all__ = ["IMAGE_SUFFIXES", "ImageError", "ImageInput", "scan_images", "list_images", "load_image", "file_stamp"]

LIST_SUFFIXES = (".txt", ".lst", ".list")
BACKGROUND = (255, 255, 255)  # transparent pixels are shown over white
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HEIC_PROBLEM = "a HEIC/HEIF image, which Pillow does not decode: convert it to JPEG or PNG (e.g. `heif-convert`, or " \
               "pillow-heif)"
# the major brands of HEIF files (ISO/IEC 23008-12) in the 'ftyp' box that opens them: a phone photo listed in a text
# file or renamed .jpg is told as one by its content (trial 59: "not an image file, or corrupt")
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1", b"heif"}


def _is_heif(data: bytes) -> bool:
    return len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


class ImageError(ValueError):
    """An input image that cannot be used; the message names the file."""


@dataclass(frozen=True)
class ImageInput:
    """One input of a run: where it is, its name in outputs, and why it cannot be read when that is known before
    reading it (a broken symbolic link, a link loop, an unreadable folder)."""

    path: Path
    name: str  # relative to the input root, "/"-separated: boxes.json's file_name
    problem: str | None = None


# ------------------------------------------------------------------------------------------------ finding
def scan_images(path, duplicates: list[tuple[str, str]] | None = None) -> list[ImageInput]:
    """The inputs named by ``path``, with their names:

    - a folder: the image files under it (suffixes :data:`IMAGE_SUFFIXES`, any case; HEIC/HEIF files are inputs with a
      ``problem``, Pillow decoding none), searched recursively and
      following symbolic links to folders, sorted by path; each named by its path relative to the folder. A link
      that cannot be followed (broken, or a loop back to a folder above it) and a folder that cannot be read are
      inputs with a ``problem``, so that the run lists them under ``errors`` instead of dropping them. One folder
      entry reached twice through a symbolic link to a folder (``images/`` and ``link_to_images/`` beside it, or a
      link back into the tree) is one input (:func:`_entry_key`): the one reached without a link (else the first by
      name) is kept, and each other image is appended to ``duplicates``, when given, as ``(its name, the name
      kept)`` (trial 61: run twice; a broken link or loop so reached is listed once). Two entries are two inputs,
      also two symbolic links to one file (a DVC-style cache of identical images) and hard links;
    - one image file: named by its file name;
    - a text list (``.txt``/``.lst``/``.list``, one path a line; relative paths are relative to the list's folder;
      blank lines and ``#`` comments skipped): each named by its path relative to the deepest folder holding all
      the listed images, so that ``a/img.jpg`` and ``b/img.jpg`` keep apart. A file listed twice is refused, also
      when named the second time through a symbolic link to its folder (one entry, :func:`_entry_key`); two
      links to one file are two images.

    Raises ``ImageError`` when nothing usable is named."""
    path = Path(path)
    if path.is_dir():
        found = _scan_folder(path, duplicates)
        if not found:
            raise ImageError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        return found
    if not path.exists():
        raise ImageError(f"{path}: no such file or folder")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return [ImageInput(path, path.name)]
    if path.suffix.lower() in LIST_SUFFIXES:
        return _scan_list(path)
    raise ImageError(f"{path}: not an image ({', '.join(IMAGE_SUFFIXES)}), a folder, or a .txt list of images")


def list_images(path) -> list[Path]:
    """The readable-looking image paths of :func:`scan_images` (those without a known ``problem``)."""
    return [i.path for i in scan_images(path) if i.problem is None]


def _is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def _may_be_image(name: str) -> bool:
    """A name that could be an image, or a folder of them (no suffix)."""
    suffix = PurePosixPath(name).suffix.lower()
    return suffix in IMAGE_SUFFIXES or suffix == ""


def _entry_key(path, real_folder: str | None = None) -> str:
    """The folder entry ``path`` names, whatever symbolic links to folders led to it: the real path of its folder
    joined with its own name (``real_folder``: that real path, when the caller has it). One key is one input,
    reached twice through a link to a folder (``link_to_images/a.jpg`` is ``images/a.jpg``); two entries are two
    inputs, each name an image the user gave, also when both are links to one file (``x.jpg`` and ``y.jpg`` → a
    DVC cache's ``cache/ab12``: trial 64, one of them was dropped) or hard links."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(os.path.realpath(folder) if real_folder is None else real_folder, name)


def _scan_folder(root: Path, duplicates: list[tuple[str, str]] | None = None) -> list[ImageInput]:
    # entry key (_entry_key) -> its inputs, each with whether a symbolic link to a folder led to it and its name's parts
    entries_of: dict[str, list[tuple[bool, tuple, ImageInput]]] = {}
    st = os.stat(root)
    # (folder, its name prefix, the (device, inode) of it and the folders above it: a link to one of those loops,
    # whether a symbolic link led to it)
    stack = [(root, "", frozenset({(st.st_dev, st.st_ino)}), False)]
    while stack:
        folder, prefix, above, linked = stack.pop()
        real_folder = os.path.realpath(folder)

        def add(image: ImageInput, key: str | None = None) -> None:  # key: the image's entry, _entry_key's
            entries_of.setdefault(key or _entry_key(image.path, real_folder), []).append(
                (linked, PurePosixPath(image.name).parts, image))  # noqa: B023 (called before the loop moves on)

        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as e:
            add(ImageInput(folder, prefix.rstrip("/") or ".",
                           f"cannot read this folder ({e.strerror or e}); its images are left out"), real_folder)
            continue
        for entry in entries:
            name = prefix + entry.name
            full = folder / entry.name
            try:
                st = os.stat(full)  # follows links
            except OSError as e:
                if entry.is_symlink() and _may_be_image(entry.name):
                    add(ImageInput(full, name, _link_problem(full, e)))
                elif _is_image_name(entry.name):
                    add(ImageInput(full, name, f"cannot read ({e.strerror or e})"))
                continue
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in above:
                    add(ImageInput(full, name, "symbolic link loop: it leads back to a folder above it "
                                               f"({os.readlink(full) if entry.is_symlink() else full})"))
                else:
                    stack.append((full, name + "/", above | {key}, linked or entry.is_symlink()))
            elif stat.S_ISREG(st.st_mode) and (_is_image_name(entry.name) or PurePosixPath(entry.name).suffix.lower()
                                               in UNDECODED_IMAGE_SUFFIXES):
                add(ImageInput(full, name, None if _is_image_name(entry.name) else HEIC_PROBLEM))
    found: list[ImageInput] = []
    for same in entries_of.values():  # one entry reached through links to folders: the one without, else the first
        same.sort(key=lambda item: item[:2])
        found.append(same[0][2])
        if duplicates is not None and same[0][2].problem is None:
            duplicates.extend((item[2].name, same[0][2].name) for item in same[1:])
    if duplicates is not None:
        duplicates.sort(key=lambda d: PurePosixPath(d[0]).parts)
    return sorted(found, key=lambda i: PurePosixPath(i.name).parts)


def _link_problem(path: Path, error: OSError) -> str:
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    if error.errno == errno.ELOOP:
        return f"symbolic link loop ({path.name} → {target} never reaches a file)"
    if error.errno == errno.ENOENT:
        return f"broken symbolic link (its target {target} does not exist)"
    return f"cannot follow the symbolic link to {target} ({error.strerror or error})"


def _scan_list(list_file: Path) -> list[ImageInput]:
    try:  # the readers' rule: UTF-8, UTF-8/16/32 announced by a byte-order mark, or UTF-16 without one
        text = read_text(list_file)
    except UnicodeDecodeError as e:
        kind = binary_kind(e.object[:32])
        if kind:  # an image given a list's suffix, or a list's name given to an image
            raise ImageError(f"{list_file}: {kind}, not a text list of image paths (an input with the suffix "
                             f"{list_file.suffix} is read as a list)") from None
        what = e.reason if e.object[e.start:e.start + 1] == b"\x00" else "not UTF-8"
        raise ImageError(f"{list_file}: not a text list of image paths: byte {e.start} is {what} (save it as "
                         "UTF-8, or UTF-16/32 with a byte-order mark)") from None
    paths, seen, targets, lines = [], {}, {}, []
    def names_a_file(entry: str) -> bool:
        return os.path.lexists(entry if os.path.isabs(entry) else list_file.parent / entry)

    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and line != raw and names_a_file(raw):  # trial 66: ' b.jpg' was read as 'b.jpg', "no such file"
            line = raw
        if not line or (line.startswith("#") and not names_a_file(line)):  # a comment, unless it names a file
            continue  # (trial 66: '#1.jpg' was left out without a word, where a folder of it runs it)
        p = Path(line)
        p = p if p.is_absolute() else list_file.parent / p
        where = os.path.normpath(os.path.abspath(p))
        if where in seen:
            raise ImageError(f"{list_file}:{n}: {line} is listed twice (also on line {seen[where]}); each image "
                             "once, please")
        target = _entry_key(where)
        if target in targets:  # trial 61: run twice, under two names
            first, first_line = targets[target]
            raise ImageError(f"{list_file}:{n}: {line} is the file of line {first} ({first_line}), reached through a "
                             f"symbolic link to its folder (both are {target}); each image once, please")
        seen[where] = n
        targets[target] = (n, line)
        paths.append((p, where))
        lines.append(line)
    if not paths:
        raise ImageError(f"{list_file}: the list names no images")
    if all(is_image_list_line(line) for line in lines) and not any(os.path.lexists(w) for _, w in paths):
        raise ImageError(f"{list_file}: its lines are 'name index' pairs (an ILSVRC image list, as `detect eval "
                         "--image-list` reads and `detect run --format ilsvrc` writes beside its output), and no "
                         "line names a file: give a folder of images, or a list of one image path a "
                         "line")
    common = os.path.commonpath([os.path.dirname(w) for _, w in paths])
    return [ImageInput(p, Path(w).relative_to(common).as_posix()) for p, w in paths]


# ------------------------------------------------------------------------------------------------ decoding
def load_image(path, data: bytes | None = None) -> np.ndarray:
    """Decode an image file → RGB ``uint8`` H x W x 3 as a viewer shows it (see the module docstring): EXIF
    orientation applied, 16-bit samples scaled by 1/257, other modes converted, transparency over white.

    ``data``: the file's bytes when the caller has read them already (``path`` then only names the file in
    messages). Raises ``ImageError`` naming the file and saying why it cannot be decoded."""
    path = Path(path)
    try:
        if data is None:
            data = path.read_bytes()
        with _opened(io.BytesIO(data), path) as img:
            img.load()
            img = _viewed(img, data, path)
            arr = np.array(img, dtype=np.uint8)  # a writable copy
        if Image.MAX_IMAGE_PIXELS and arr.shape[0] * arr.shape[1] > Image.MAX_IMAGE_PIXELS:  # Pillow's warning line
            logger.warning("%s: a very large image (%s × %s pixels, more than Pillow's %s): decoding it takes much "
                           "memory", path, f"{arr.shape[1]:,}", f"{arr.shape[0]:,}", f"{Image.MAX_IMAGE_PIXELS:,}")
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: a folder, not an image file") from None
    except UnidentifiedImageError:
        if _is_heif(data):
            raise ImageError(f"{path}: {HEIC_PROBLEM}") from None
        why = "the file is empty (0 bytes)" if not data else "not an image file, or corrupt"
        raise ImageError(f"{path}: cannot decode image ({why})") from None
    except Image.DecompressionBombError as e:
        size = re.search(r"\((\d+) pixels\)", str(e))  # Pillow's message names the image's pixel count
        pixels = f"{int(size[1]):,} pixels, " if size else ""
        raise ImageError(f"{path}: too large to decode ({pixels}over twice Pillow's limit of "
                         f"{Image.MAX_IMAGE_PIXELS:,}: PIL.Image.MAX_IMAGE_PIXELS, its guard against decompression "
                         "bombs, which a caller of the Python API may raise)") from None
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, ImageError):
            raise
        # Pillow's words; its "(N bytes not processed)" told little, and "Truncated File Read" (a file cut inside
        # its header: a JPEG's markers, a PNG's chunks before the image data) said it in its own jargon (trial 19)
        if str(e).startswith("image file is truncated") or str(e) == "Truncated File Read":
            raise ImageError(f"{path}: cannot decode image (the file is truncated: it ends before its image data "
                             "does, as after an interrupted download or copy)") from None
        if str(e) == "could not create decoder object":  # libwebp's word for a cut or damaged WebP (trial 19)
            raise ImageError(f"{path}: cannot decode image (its image data are damaged or cut short: a truncated or "
                             "corrupt file)") from None
        raise ImageError(f"{path}: cannot decode image ({e})") from None
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageError(f"{path}: empty image")
    return arr


def file_stamp(path) -> dict | None:
    """What tells an image file from one put in its place since: ``{"size": bytes, "mtime_ns": modification time}``
    of the file at ``path`` (a link followed), as ``make`` and ``rsync``'s quick check tell a changed file — a stat,
    not a read (a digest of the contents would read every image of a resumed job again before its first new one).
    None when it cannot be stat'ed (gone, a broken link)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def image_size(path) -> tuple[int, int]:
    """(width, height) of the image file at ``path`` as :func:`load_image` decodes it — EXIF orientation 5–8 swaps
    the stored sides — from its header alone. Raises ``OSError`` / ``UnidentifiedImageError`` when it cannot be
    read."""
    with _opened(path, path) as img:
        w, h = img.size
        orientation = img.getexif().get(0x0112, 1)
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _opened(source, path) -> Image.Image:
    """``Image.open(source)`` with its EXIF parsed (:func:`_exif`): a JPEG's is parsed as it opens, for its DPI."""
    img = _exif(lambda: Image.open(source), path)
    try:
        _exif(img.getexif, path)
    except BaseException:
        img.close()
        raise
    return img


def _exif(parse, path):
    """``parse()`` — an ``Image.open`` or ``getexif`` (Pillow keeps the parse on the image) — with Pillow's
    warnings about a damaged EXIF block logged with the file's name, each once per file and process; other warnings
    raised meanwhile (by other threads, or Pillow's others, as its DecompressionBombWarning) are passed on to the
    filters. Opening reads the header only: the lock does not serialise decoding."""
    with _EXIF_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = parse()
    for w in caught:  # EXIF is parsed by the TIFF plugin's tag reader, MakerNotes by Image.Exif
        if os.path.basename(w.filename) == "TiffImagePlugin.py" or "EXIF" in str(w.message):
            key = (str(path), str(w.message))
            if key not in _EXIF_SAID:
                _EXIF_SAID.add(key)
                logger.warning("%s: %s (its EXIF orientation tag, if it has one, may be lost)", path,
                               " ".join(str(w.message).split()))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


def _viewed(img: Image.Image, data: bytes, path: Path) -> Image.Image:
    """A decoded Pillow image → the RGB image a viewer shows."""
    opened = img  # its EXIF was parsed as it opened (_opened)
    img = _png16_as_8bit(img, data, path) if _png_bit_depth(data) == 16 else eight_bit(img, path)
    if img is not opened:  # a new image of the 16-bit paths parses its EXIF here
        _exif(img.getexif, path)
    ImageOps.exif_transpose(img, in_place=True)  # reads the parse kept on img
    return as_rgb(img)


def eight_bit(img: Image.Image, name, *, pil: bool = False) -> Image.Image:
    """A Pillow image at 8 bits a sample: 16-bit grey (``I;16*``, from a TIFF or an in-memory image) scaled by
    :func:`scale16` (Pillow's own conversion clips it: all white); other modes as they are. Raises
    :class:`ImageError` naming ``name`` (a file; ``pil``: an in-memory PIL image) for a 32-bit ``I`` / ``F`` image: a
    TIFF of measurements has no range a viewer would map to black and white."""
    if img.mode.startswith("I;16"):
        return Image.fromarray(scale16(np.asarray(img)), "L")
    if img.mode in ("F", "I"):
        raise ImageError(f"{name}: a 32-bit {'floating-point' if img.mode == 'F' else 'integer'} {'PIL ' * pil}image: "
                         "its values have no display range to read it by (convert it to 8 or 16 bits first)")
    return img


def as_rgb(img: Image.Image) -> Image.Image:
    """An 8-bit Pillow image of any mode → RGB, transparency (an alpha channel, or a palette's or grey image's
    transparent colour) composited over white."""
    if img.mode == "La":  # premultiplied grey: Pillow converts it to LA alone (trial 63: "conversion from La to L")
        img = img.convert("LA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (*BACKGROUND, 255)), rgba).convert("RGB")
    return img.convert("RGB")


def _png_bit_depth(data: bytes) -> int | None:
    """The bit depth in a PNG's IHDR chunk (PNG, 11.2.2: signature, then length, "IHDR", width, height, bit
    depth), or None when ``data`` is not a PNG."""
    if len(data) >= 25 and data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR":
        return data[24]
    return None


def scale16(values: np.ndarray) -> np.ndarray:
    """16-bit samples → 8-bit: ``round(v / 257)`` (no ties: ``v / 257`` is never an odd multiple of 1/2)."""
    return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _png16_as_8bit(img: Image.Image, data: bytes, path: Path) -> Image.Image:
    """A 16-bit PNG at 8 bits, scaled as :func:`scale16`. Pillow keeps only the high byte of 16-bit colour
    samples (``v >> 8``), so the samples come from OpenCV's decoder; the result carries ``img``'s metadata, so
    that its EXIF orientation still applies."""
    import cv2  # here only: the data layer does not need OpenCV otherwise

    raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.dtype != np.uint16 or raw.shape[:2] != (img.height, img.width):
        raise ImageError(f"{path}: cannot decode this 16-bit PNG")
    px = scale16(raw)
    if px.ndim == 2:
        out = Image.fromarray(px, "L")
    elif px.shape[2] == 2:
        out = Image.fromarray(px, "LA")
    elif px.shape[2] == 3:
        out = Image.fromarray(np.ascontiguousarray(px[:, :, ::-1]), "RGB")
    else:
        out = Image.fromarray(np.ascontiguousarray(px[:, :, [2, 1, 0, 3]]), "RGBA")
    out.info = {k: v for k, v in img.info.items() if k != "transparency"}  # a 16-bit key colour cannot apply
    return out
