"""Crash-safe batch output: per-image records streamed to a JSONL *part file*, assembled into ``boxes.json``, and
shard outputs merged back into one file.

A part file (``boxes.json.part.jsonl`` beside the output) holds one header line, then one line per finished image,
in completion order::

    {"header": {...the job: inputs, their digest, the config digest, the shard, model info, categories...}}
    {"index": 0, "image": {"id": 1, "file_name": "a.jpg", "width": 500, "height": 375}, "detections": [...]}
    {"index": 2, "error": {"file_name": "broken.jpg", "error": "cannot decode image"}}

Lines are flushed as they are written and fsynced in batches, so a killed job loses at most its last few images;
a last line cut short by the kill is ignored on reading. ``index`` is the image's position in the whole input
list (its ``id`` is ``index + 1``), so records from any engine, order or shard assemble to the same file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PartError", "MergeError", "Shard", "part_path", "digest", "PartWriter", "read_part", "assemble",
           "merge_outputs", "lock_path", "JobLock", "LockedError"]


logger = logging.getLogger(__name__)


class PartError(ValueError):
    """A part file that cannot be resumed (corrupt, or written by a different job)."""


class MergeError(ValueError):
    """Shard outputs that do not combine into one result."""


class LockedError(RuntimeError):
    """Another live process holds the lock of an output (:class:`JobLock`)."""

    def __init__(self, path: Path, holder: int | None):
        self.path, self.holder = path, holder
        super().__init__(f"{path} is locked by {'process ' + str(holder) if holder else 'another process'}")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``: a contiguous block of the input list, so that shards in order concatenate to
    the input order. Shard sizes differ by at most one image."""

    index: int = 0
    count: int = 1

    def __post_init__(self):
        if not (isinstance(self.count, int) and self.count >= 1 and 0 <= self.index < self.count):
            raise ValueError(f"a shard is I/N with 0 <= I < N, got {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> "Shard":
        try:
            i, n = (int(v) for v in str(text).split("/"))
        except ValueError:
            raise ValueError(f"--shard takes I/N (for example 0/4), got {text!r}") from None
        return cls(i, n)

    def bounds(self, total: int) -> tuple[int, int]:
        """``[start, stop)`` of this shard in a list of ``total`` inputs."""
        return self.index * total // self.count, (self.index + 1) * total // self.count

    def to_dict(self) -> dict:
        return {"index": self.index, "count": self.count}


def part_path(out) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".part.jsonl")


def lock_path(out) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".lock")


class JobLock:
    """An exclusive lock on an output for the life of the job writing it: ``fcntl.flock`` on ``OUT.lock``, taken
    without waiting (:class:`LockedError`, with the holder's pid, when another live process has it). The kernel
    drops the lock when its process ends, however it ends (``kill -9`` included), so a lock never outlives its job
    and a stale lock file is simply taken over.

    The lock file holds the holder's pid and is removed on :meth:`release` while still locked; a process that
    opened the file just before and then locks the removed file sees that the path no longer names it and tries
    again (the usual remove-while-locked protocol), so two jobs never both hold the lock. Where ``flock`` does
    not exist (not POSIX) or the file system refuses it, the job runs unlocked (logged)."""

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
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
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


def digest(obj) -> str:
    """SHA-256 of ``obj``'s canonical JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class PartWriter:
    """Appends records to a part file; each line is flushed at once and fsynced every ``sync_every`` records or
    ``sync_seconds`` seconds (and on close). ``header`` is written first when the file is new or empty."""

    path: Path
    header: dict
    sync_every: int = 16
    sync_seconds: float = 5.0
    _f: object = field(init=False, default=None)
    _pending: int = field(init=False, default=0)
    _last_sync: float = field(init=False, default=0.0)

    def __post_init__(self):
        self.path = Path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if not fresh:
            _cut_torn_tail(self.path)
        self._f = open(self.path, "a", encoding="utf-8")
        if fresh:
            self._f.write(json.dumps({"header": self.header}, allow_nan=False) + "\n")
            self.sync()
        self._last_sync = time.monotonic()

    def write(self, record: dict) -> None:
        self._f.write(json.dumps(record, allow_nan=False) + "\n")
        self._f.flush()
        self._pending += 1
        if self._pending >= self.sync_every or time.monotonic() - self._last_sync >= self.sync_seconds:
            self.sync()

    def sync(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._pending = 0
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._f is not None and not self._f.closed:
            self.sync()
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _cut_torn_tail(path: Path) -> None:
    """Truncate a last line that a kill cut short (no newline), so that appending starts on a fresh line."""
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def read_part(path) -> tuple[dict, dict[int, dict]]:
    """A part file → (header, records by input index). A last line without its newline (the job was killed while
    writing it) is dropped; any other unreadable line is an error naming the file and line."""
    path = Path(path)
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    if raw.endswith(b"\n"):
        lines = lines[:-1]
    elif lines:
        lines = lines[:-1]  # torn last line
    if not lines:
        raise PartError(f"{path}: empty part file (no header)")
    records: dict[int, dict] = {}
    header = None
    for n, line in enumerate(lines, start=1):
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise PartError(f"{path}:{n}: not a JSON line ({e.msg if hasattr(e, 'msg') else e})") from None
        if n == 1:
            if not isinstance(obj, dict) or "header" not in obj:
                raise PartError(f"{path}:1: the first line is not a part-file header")
            header = obj["header"]
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("index"), int):
            raise PartError(f"{path}:{n}: a record needs an integer 'index'")
        records[obj["index"]] = obj  # a repeated index (an image redone after a crash) keeps its last record
    return header, records


def assemble(header: dict, records: dict[int, dict]) -> dict:
    """Records → the ``boxes.json`` document (DESIGN.md), images, detections and errors in input order."""
    images, detections, errors = [], [], []
    for index in sorted(records):
        rec = records[index]
        if "error" in rec:
            errors.append(rec["error"])
        else:
            images.append(rec["image"])
            detections.extend(rec["detections"])
    return {"model": header["model"], "images": images, "categories": header["categories"],
            "detections": detections, "errors": errors, "job": header["job"]}


def merge_outputs(docs: list[tuple[str, dict]], *, allow_partial: bool = False) -> dict:
    """Shard outputs ``[(name, boxes.json document)]`` → one document equal to a single run over all the inputs.

    Refused (:class:`MergeError`, naming the files): a file that is not a shard output, shards of different jobs
    (inputs, configuration, model or categories differ) or of different splits, the same shard twice, images that
    appear in two parts, and, unless ``allow_partial``, missing shards."""
    if not docs:
        raise MergeError("nothing to merge")
    parts = []
    for name, doc in docs:
        job = doc.get("job") if isinstance(doc, dict) else None
        if not isinstance(job, dict) or not isinstance(job.get("shard"), dict):
            raise MergeError(f"{name}: not a shard output of `detect run --shard I/N` (no job.shard)")
        parts.append((name, doc, job))
    name0, doc0, job0 = parts[0]
    count = job0["shard"]["count"]
    seen: dict[int, str] = {}
    for name, doc, job in parts:
        for key, what in (("inputs", "number of inputs"), ("inputs_sha256", "input list"),
                          ("config_sha256", "model or settings")):
            if job.get(key) != job0.get(key):
                raise MergeError(f"{name} and {name0} come from different jobs: their {what} differ")
        if doc.get("categories") != doc0.get("categories"):
            raise MergeError(f"{name} and {name0} have different categories")
        if job["shard"]["count"] != count:
            raise MergeError(f"{name} is shard {job['shard']['index']}/{job['shard']['count']} but {name0} is "
                             f"one of {count}: shards of different splits")
        i = job["shard"]["index"]
        if i in seen:
            raise MergeError(f"{name} and {seen[i]} are both shard {i}/{count}")
        seen[i] = name
    missing = sorted(set(range(count)) - set(seen))
    if missing and not allow_partial:
        raise MergeError(f"shard(s) {', '.join(f'{i}/{count}' for i in missing)} missing (pass --allow-partial "
                         "to merge what is there)")
    parts.sort(key=lambda p: p[2]["shard"]["index"])
    owner: dict = {}
    images, detections, errors = [], [], []
    for name, doc, _ in parts:
        for im in doc["images"]:
            for key in (("id", im["id"]), ("file", im["file_name"])):
                if key in owner:
                    raise MergeError(f"{name} and {owner[key]} overlap: both hold image {im['file_name']!r}")
                owner[key] = name
        for e in doc["errors"]:
            key = ("file", e["file_name"])
            if key in owner:
                raise MergeError(f"{name} and {owner[key]} overlap: both hold image {e['file_name']!r}")
            owner[key] = name
        images.extend(doc["images"])
        detections.extend(doc["detections"])
        errors.extend(doc["errors"])
    job = {k: v for k, v in job0.items() if k != "shard"}
    if missing:
        job["missing_shards"] = [f"{i}/{count}" for i in missing]
    model = dict(doc0["model"])
    return {"model": model, "images": images, "categories": doc0["categories"], "detections": detections,
            "errors": errors, "job": job}
