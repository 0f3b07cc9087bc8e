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
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PartError", "MergeError", "Shard", "part_path", "digest", "PartWriter", "read_part", "assemble",
           "merge_outputs"]


class PartError(ValueError):
    """A part file that cannot be resumed (corrupt, or written by a different job)."""


class MergeError(ValueError):
    """Shard outputs that do not combine into one result."""


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
