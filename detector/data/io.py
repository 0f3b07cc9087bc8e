"""File output that never leaves a half-written file looking complete, and text input as the formats allow."""

from __future__ import annotations

import codecs
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_json", "check_writable_dir", "decode_text", "read_text"]

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))  # UTF-32 LE before UTF-16 LE: FF FE 00 00


def decode_text(data: bytes) -> str:
    """Text of a JSON or plain-text file: UTF-8, or UTF-8/16/32 announced by a byte-order mark (RFC 8259 §8.1:
    JSON is UTF-8; a reader may ignore a BOM). Raises ``UnicodeDecodeError`` for anything else."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    return data.decode("utf-8")


def read_text(path) -> str:
    """:func:`decode_text` of the file at ``path``. Raises ``OSError`` (unreadable, a folder, missing) or
    ``UnicodeDecodeError`` (not UTF-8 text)."""
    with open(path, "rb") as f:
        return decode_text(f.read())


def atomic_write(path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(f)`` on a temporary file in ``path``'s folder, fsync it, then rename it over ``path`` (atomic
    on POSIX): readers see the old file or the whole new one, never a part. On any error the temporary file goes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode a plain open() would
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str) -> Path:
    """:func:`atomic_write` of UTF-8 ``text``."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write_json(path, obj, *, indent: int | None = 1) -> Path:
    """:func:`atomic_write_text` of ``json.dumps(obj)`` (NaN refused: JSON has none)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, allow_nan=False) + "\n")


def check_writable_dir(folder) -> Path:
    """Make ``folder`` (and its parents) if need be and prove that files can be created in it, by creating and
    removing one: a job checks its output folders this way before any work. Raises ``OSError`` with the reason
    (a read-only folder or file system, a file where a folder should be, no permission)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file is there, not a folder", str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".write-check-", suffix=".tmp", dir=folder)
    os.close(fd)
    os.unlink(tmp)
    return folder
