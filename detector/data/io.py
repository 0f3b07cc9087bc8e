"""File output that never leaves a half-written file looking complete, the lock of a job's output, and text input as
the formats allow."""

from __future__ import annotations

import codecs
import errno
import functools
import hashlib
import json
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

logger = logging.getLogger(__name__)

__all__ = ["count", "text_head", "missing_fields", "not_a_file", "missing_link_folder", "atomic_write",
           "atomic_write_text", "atomic_write_json", "check_writable_dir", "decode_text", "decode_head", "read_text",
           "binary_kind", "not_text", "utf16_without_bom", "file_sha256", "resolved_out", "same_paths", "lock_path",
           "JobLock", "LockedError"]

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))  # UTF-32 LE before UTF-16 LE: FF FE 00 00


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun`` in agreement for messages: ``1 image``, ``2 images`` (``plural``: when it is not ``noun``
    + s, e.g. ``classes``)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def decode_text(data: bytes) -> str:
    """Text of a JSON or plain-text file: UTF-8, or UTF-8/16/32 announced by a byte-order mark (RFC 8259 §8.1:
    JSON is UTF-8; a reader may ignore a BOM), or UTF-16 without one (:func:`utf16_without_bom`, as ``json.loads``
    of bytes reads it). Raises ``UnicodeDecodeError`` for anything else, a NUL byte included (no text holds one: a
    binary file, or UTF-32 without a BOM)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    if b"\x00" in data:
        encoding = utf16_without_bom(data)
        if encoding is not None:
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                pass
        nul = data.index(b"\x00")
        raise UnicodeDecodeError("utf-8", data, nul, nul + 1, "a NUL byte, which no text holds: a binary file, or "
                                                              "UTF-32 text without a byte-order mark?")
    return data.decode("utf-8")


def decode_head(head: bytes) -> str:
    """The first bytes of a text file (``head``, perhaps cut inside a character) as text, read as
    :func:`decode_text` reads the whole file — in the encoding its byte-order mark announces (the mark left out),
    UTF-16 without one, else UTF-8 —, what cannot be decoded replaced: for telling a file by how it begins (a
    ``boxes.json`` that an editor saved with a BOM begins ``{"model"`` all the same)."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head.decode(encoding, "replace")  # the codec reads the mark
    if b"\x00" in head and (encoding := utf16_without_bom(head[: len(head) // 2 * 2])) is not None:
        return head.decode(encoding, "replace")
    return head.decode("utf-8", "replace")


def utf16_without_bom(data: bytes) -> str | None:
    """``"utf-16-le"`` or ``"utf-16-be"`` when ``data`` looks like UTF-16 text without a byte-order mark — an even
    number of bytes, a NUL in at least half of the code units on one side (the high byte of ASCII characters) and
    far fewer on the other — else None."""
    if len(data) < 2 or len(data) % 2:
        return None
    units = len(data) // 2
    even, odd = data[0::2].count(0), data[1::2].count(0)  # NULs in the first and in the second byte of each unit
    if odd >= units / 2 and even <= odd / 8:
        return "utf-16-le"
    if even >= units / 2 and odd <= even / 8:
        return "utf-16-be"
    return None


# The signatures that begin binary files a user may give where text is read, from the formats' specifications: JPEG
# (JFIF), PNG (§5.2), GIF, TIFF 6.0, zip (APPNOTE 4.3.7: what torch.save writes), gzip (RFC 1952), NumPy .npy, HDF5,
# PDF, MATLAB 5 MAT-file (the devkit's *.mat); WebP and BMP are told in binary_kind.
_SIGNATURES = ((b"\xff\xd8\xff", "a JPEG image"), (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"GIF8", "a GIF image"),
               (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
               (b"PK\x03\x04", "a PyTorch file (a model or checkpoint?) or another zip archive"),
               (b"\x1f\x8b", "a gzip archive"),
               (b"\x93NUMPY", "a NumPy array"), (b"\x89HDF\r\n\x1a\n", "an HDF5 file"), (b"%PDF-", "a PDF document"),
               (b"MATLAB 5.0 MAT-file", "a MATLAB .mat file"))


def binary_kind(head: bytes) -> str | None:
    """What binary file ``head`` (a file's first bytes) begins, by its format's signature — ``"a JPEG image"``, ``"a
    PNG image"``, ``"a PyTorch file (…) or another zip archive"``… (``_SIGNATURES``) — or None when it is none of
    them."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[:2] == b"BM" and len(head) >= 14 and int.from_bytes(head[2:6], "little") >= 14 and b"\x00" in head[6:14]:
        return "a BMP image"
    return next((kind for magic, kind in _SIGNATURES if head.startswith(magic)), None)


def not_text(error: UnicodeDecodeError) -> str:
    """What bytes that :func:`decode_text` refused (it raised ``error``) are, for messages that go on ", not a …":
    the kind of file when they begin with a known binary signature (:func:`binary_kind`: ``"a JPEG image"``), else
    ``"not UTF-8 text (<reason> at byte N)"``."""
    return binary_kind(bytes(error.object[:32])) or f"not UTF-8 text ({error.reason} at byte {error.start})"


# a JSON file nested deeper than Python's json reads (its recursion limit): json.loads raises RecursionError, not
# JSONDecodeError (fix65: a traceback from `detect eval --gt` / `--pred` on '[' * 100000)
TOO_DEEP = "nested deeper than a JSON reader goes (arrays or objects within each other beyond Python's recursion limit)"


def read_text(path) -> str:
    """:func:`decode_text` of the file at ``path``. Raises ``OSError`` (unreadable, a folder, missing) or
    ``UnicodeDecodeError`` (not text in one of those encodings)."""
    with open(path, "rb") as f:
        return decode_text(f.read())


def text_head(path, size: int = 4096) -> str:
    """The first ``size`` characters of the text file ``path`` (UTF-8, undecodable bytes replaced), for telling a
    format by its look; "" when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(size)
    except OSError:
        return ""


def not_a_file(path) -> str | None:
    """What ``path`` is when it exists (links followed) and is not a regular file — "a folder", "a character device"
    (``/dev/null``), "a block device", "a named pipe (FIFO)", "a socket", "a loop of symbolic links" —, else
    None. An output is never renamed over such a path: that would replace the device or pipe itself."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        return "a loop of symbolic links" if e.errno == errno.ELOOP else None
    for test, what in ((stat.S_ISREG, None), (stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def missing_link_folder(path) -> Path | None:
    """The folder that ``path``'s target would be written in, when ``path`` is a symbolic link (a dangling one)
    whose target's folder does not exist; else None. Writing through such a link would make folders somewhere the
    user never named: they are never made, the write is refused (:func:`atomic_write`, ``--out``)."""
    path = Path(path)
    if not path.is_symlink():
        return None
    folder = Path(os.path.realpath(path)).parent
    return None if os.path.lexists(folder) else folder


def atomic_write(path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(f)`` on a temporary file in ``path``'s folder, fsync it, then rename it over ``path`` (atomic
    on POSIX): readers see the old file or the whole new one, never a part. On any error the temporary file goes.
    A symbolic link is written through (its target is replaced, the link stays, as a shell redirection does); a
    link whose target's folder does not exist is refused (:func:`missing_link_folder`: no folder is made for a
    link's target). Raises ``OSError`` naming ``path`` when its folder cannot be made or written to, when ``path``
    is a folder, a device, a pipe or a socket (:func:`not_a_file`), or such a link. Returns the path written (a
    link's target)."""
    path = Path(path)
    if (folder := missing_link_folder(path)) is not None:
        raise FileNotFoundError(errno.ENOENT, f"it is a symbolic link to {os.path.realpath(path)}, whose folder "
                                              f"{folder} does not exist (no folder is made for a link's target)",
                                str(path))
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    what = not_a_file(path)
    if what is not None:
        raise OSError(errno.EEXIST, f"it is {what}, not a file: it is not replaced", str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{_short_name(path.name)}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # name the file asked for, not the temporary one
        why = "a file is where a folder should be" if isinstance(e, (FileExistsError, NotADirectoryError)) \
            else e.strerror or str(e)
        raise type(e)(e.errno, f"cannot write there: {why}", str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode a plain open() would
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if (cause := _write_error(e)) is not None:  # a full disk, a file-size limit: name the file, not the temp
            raise type(cause)(cause.errno, cause.strerror or str(cause), str(path)) from e
        raise
    return path


def _short_name(name: str, limit: int = 128) -> str:
    """``name`` cut to at most ``limit`` bytes, whole characters, for the temporary file beside it: a name near the
    file system's 255-byte limit is legal, but ``.NAME.XXXXXXXX.tmp`` would not be."""
    while len(os.fsencode(name)) > limit:
        name = name[:-1]
    return name


def _write_error(e: BaseException) -> OSError | None:
    """The ``OSError`` without a file name behind a failed write (``ENOSPC``, ``EFBIG``, ``EIO``): ``e`` itself, or
    the error it was raised while handling — ``torch.save`` turns its file object's ``OSError`` into a
    ``RuntimeError`` ("unexpected pos …", user trial 32: a full disk ended a training run with a traceback). None
    for anything else (Ctrl-C, a value that cannot be written)."""
    seen = 0
    while e is not None and seen < 8:
        if isinstance(e, OSError):
            return e if e.filename is None and e.errno is not None else None
        if not isinstance(e, Exception):
            return None
        e, seen = e.__cause__ or e.__context__, seen + 1
    return None


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
    try:
        fd, tmp = tempfile.mkstemp(prefix=".write-check-", suffix=".tmp", dir=folder)
    except OSError as e:  # name the folder, not the probe file
        raise type(e)(e.errno, e.strerror or str(e), str(folder)) from None
    os.close(fd)
    os.unlink(tmp)
    return folder


def file_sha256(path) -> str:
    """SHA-256 (hex) of a file's bytes (a model file's identity in a job's ``config_sha256``, its output's
    ``files_sha256`` and the ensemble loader's check for a member given twice). Read once per version of the file:
    the digest is kept under the file's identity and modification time, as one run asks it for each member three
    times."""
    st = os.stat(path)  # ctime too: a file rewritten with its old mtime put back (touch -r) is another version
    return _sha256_of(os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@functools.lru_cache(maxsize=64)
def _sha256_of(path: str, dev: int, ino: int, size: int, mtime_ns: int, ctime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class LockedError(RuntimeError):
    """Another live process holds the lock of an output (:class:`JobLock`)."""

    def __init__(self, path: Path, holder: int | None):
        self.path, self.holder = path, holder
        super().__init__(f"{path} is locked by {'process ' + str(holder) if holder else 'another process'}")


def resolved_out(out) -> Path:
    """The file a job writing ``out`` really writes: ``out`` itself when no symbolic link (``out`` being one, or a
    folder above it) leads elsewhere, else where the links lead (``os.path.realpath``). A job's lock and part file
    are named after it, so that two runs writing one file through different names (``--out x.json`` and ``--out
    link``, a link to it) take the same lock."""
    out = Path(out)
    real = os.path.realpath(out)
    return out if real == os.path.abspath(out) else Path(real)


def same_paths(a, b) -> bool:
    """Whether two lists of paths name the same files, in any order, once resolved (a resumed run's ``--gt`` or
    ``--photos`` against those its checkpoint records)."""
    return sorted(str(Path(p).resolve()) for p in a) == sorted(str(Path(p).resolve()) for p in b)


def lock_path(out) -> Path:
    """The lock of a job writing ``out``: ``OUT.lock`` beside the file it writes (a link's target:
    :func:`resolved_out`)."""
    out = resolved_out(out)
    return out.with_name(out.name + ".lock")


class JobLock:
    """An exclusive lock on an output for the life of the job writing it: ``fcntl.flock`` on ``OUT.lock``
    (:func:`lock_path`: beside the file ``out`` resolves to, so a link to it names the same lock), taken
    without waiting (:class:`LockedError`, with the holder's pid, when another live process has it). The kernel
    drops the lock when its process ends, however it ends (``kill -9`` included), so a lock never outlives its job
    and a stale lock file is simply taken over.

    The lock file holds the holder's pid and is removed on :meth:`release` while still locked; a process that
    opened the file just before and then locks the removed file sees that the path no longer names it and tries
    again (the usual remove-while-locked protocol), so two jobs never both hold the lock. Where ``flock`` does
    not exist (not POSIX) or the file system refuses it, the job runs unlocked (logged).

    A symbolic link at ``OUT.lock`` is refused (``OSError``, :meth:`acquire`), never followed: the pid would
    replace the file it points to (or create a dangling link's target), and :meth:`release` would remove the link.
    It is not replaced either: a link there is something the user put there, so it is left for them to remove."""

    def __init__(self, out):
        self.path = lock_path(out)
        self._fd: int | None = None

    def acquire(self) -> "JobLock":
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            logger.warning("no fcntl here: %s is not locked against a second run", self.path)
            return self
        while True:
            try:  # O_NOFOLLOW: a link at the lock's path is an error (ELOOP), never written through
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except OSError:
                if self.path.is_symlink():
                    raise OSError(errno.ELOOP, "it is a symbolic link, which the run never writes its pid through "
                                               "(it would replace the file the link points to): remove the link",
                                  str(self.path)) from None
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                raise LockedError(self.path, holder) from None
            except OSError as e:
                os.close(fd)
                logger.warning("cannot lock %s (%s): running without a lock against a second run", self.path, e)
                return self
            try:
                st = os.stat(self.path)
                fst = os.fstat(fd)
                same = (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the file was removed (by the holder that just finished) after we opened it: again
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


def missing_fields(entry, *keys: str) -> str | None:
    """What a JSON entry that must be an object with ``keys`` lacks, for a message after its place (``images[3]``):
    ``"lacks 'file_name'"``, ``"lacks 'id' and 'file_name'"``, ``"is not an object (a list)"``; None when whole."""
    if not isinstance(entry, dict):
        kind = {list: "a list", str: "a string", bool: "true or false", int: "a number", float: "a number",
                type(None): "null"}.get(type(entry), type(entry).__name__)
        return f"is not an object ({kind})"
    missing = [repr(k) for k in keys if k not in entry]
    if not missing:
        return None
    return "lacks " + (missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1])


def model_files_in(folder) -> list[Path]:
    """The model files of ``folder``: its ``*.pt`` files, the suffix in any case (``member0.PT`` copied from another
    system was passed over: "no region-classifier model file"), sorted by name — as ``detect run --model DIR`` reads
    a folder, and as the dataset readers tell one from annotations. Raises ``OSError`` when it cannot be listed."""
    return sorted(f for f in Path(folder).iterdir() if f.suffix.lower() == ".pt" and f.is_file())

