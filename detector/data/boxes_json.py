"""The ``boxes.json`` form (README, "boxes.json"), in one place: entries and records written per image, part files and their
assembly, shard merging, the COCO-results and ILSVRC-text conversions, writing, and reading a document back.

A document::

    {"model": {"name": "...", "classes": 200, "members": 3, ...},
     "images": [{"id": 1, "file_name": "a.jpg", "width": 500, "height": 375}],
     "categories": [{"id": 124, "wnid": "n00007846", "name": "person"}],
     "detections": [{"image_id": 1, "category_id": 124, "bbox": [x, y, w, h], "score": 0.93}],
     "errors": [{"file_name": "broken.jpg", "error": "cannot decode image"}],
     "job": {"inputs": 4, "inputs_sha256": "...", "config_sha256": "...", "shard": {"index": 0, "count": 2}}}

and, only when ``detect run --draw`` could not draw some images (their detections are in ``detections``, as any
other image's), ``"drawing_errors": [{"file_name": "c.jpg", "error": "drawing failed: ..."}]``; when ``--draw``
drew every other image's picture at one ``--draw-threshold``, ``"drawing": {"threshold": 0.3}`` (a ``--resume
--draw`` with another threshold draws them again).

``bbox`` is COCO ``[x, y, w, h]`` (rounded to 0.01 px), ``score`` rounded to 5 decimals; ``category_id`` is the
ILSVRC det_id, or 1000 + the class's position for classes without one; ``id`` is an image's position in the whole
input list + 1.

Crash-safe batch output: ``detect run`` streams one record per finished image to a JSONL *part file*
(``boxes.json.part.jsonl`` beside the output) — a header line, then one line per image, in completion order::

    {"header": {...the job: inputs, their digest, the config digest, the shard, model info, categories...}}
    {"index": 0, "image": {"id": 1, "file_name": "a.jpg", "width": 500, "height": 375}, "detections": [...],
     "file": {"size": 48213, "mtime_ns": 1700000000000000000}}
    {"index": 2, "error": {"file_name": "broken.jpg", "error": "cannot decode image"}, "file": {...}}
    {"index": 3, "image": {...}, "detections": [...], "drawing_error": "drawing failed: ..."}
    {"index": 4, "image": {...}, "detections": [...], "draw_threshold": 0.3}

Lines are flushed as they are written and fsynced in batches, so a killed job loses at most its last few images;
a last line cut short by the kill is ignored on reading. ``index`` is the image's position in the whole input
list (its ``id`` is ``index + 1``), so records from any engine, order or shard assemble to the same file.
``file`` (``detect run`` adds it; absent in part files of older versions, and for an input it cannot stat) is the
input file's size and modification time before the run read it (:func:`detector.data.images.file_stamp`): a
``--resume`` runs an image whose file has changed since again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from .boxes import box_in_float_range, xywh_to_xyxy, xyxy_to_ilsvrc, xyxy_to_xywh
from .io import (TOO_DEEP, atomic_write_json, atomic_write_text, count, decode_head, missing_fields, not_text,
                 read_text, resolved_out)
from .vocab import Category, ilsvrc_by_wnid

if TYPE_CHECKING:
    from .coco import CocoGtIds

__all__ = [
    # entries and records
    "category_id", "categories", "image_entry", "detection_entries", "image_record", "error_record", "document",
    # part files, assembly, shards
    "PartError", "MergeError", "Shard", "part_path", "digest", "header", "PartWriter", "read_part", "assemble",
    "job_summary", "merge_outputs",
    # conversions and writing
    "OUTPUT_FORMATS", "to_coco_results", "to_ilsvrc_text", "to_image_list", "is_image_list_line", "image_list_path",
    "output_paths", "write", "job_record_path", "job_record", "read_job_record", "is_job_record", "beside_file_of",
    "output_entry", "output_format_of",
    # reading
    "BoxesJsonError", "read_document", "Detections", "read_detections", "other_json_kind", "check_bbox",
    "check_image_id",
]


logger = logging.getLogger(__name__)

OUTPUT_FORMATS = ("json", "coco", "ilsvrc")  # what write() writes (detect run --format, detect merge --format)


class PartError(ValueError):
    """A part file that cannot be resumed (corrupt, or written by a different job)."""


class MergeError(ValueError):
    """Shard outputs that do not combine into one result."""


class BoxesJsonError(ValueError):
    """A ``boxes.json`` document (or a COCO result entry) that cannot be used; the message names the file and the
    entry."""


# ------------------------------------------------------------------------------------------------ entries, records
def category_id(cat: Category, index: int) -> int:
    """``category_id`` of a class in outputs: its ILSVRC det_id, else 1000 + its position (never a det_id)."""
    return cat.det_id if cat.det_id is not None else 1000 + index


def image_entry(image_id: int, file_name: str, width: int, height: int) -> dict:
    """An ``images`` entry: ``id``, ``file_name`` (the path relative to the input root, ``/``-separated), size."""
    return {"id": int(image_id), "file_name": str(file_name), "width": int(width), "height": int(height)}


def detection_entries(image_id: int, boxes, scores, labels, classes) -> list[dict]:
    """Detections of one image → entries; ``labels`` are 1..C (index + 1 into ``classes``)."""
    xywh = xyxy_to_xywh(boxes)
    out = []
    for b, s, lbl in zip(xywh, np.asarray(scores), np.asarray(labels)):
        cat = classes[int(lbl) - 1]
        out.append({"image_id": int(image_id), "category_id": category_id(cat, int(lbl) - 1),
                    "bbox": [round(float(v), 2) for v in b], "score": round(float(s), 5)})
    return out


def categories(classes: Sequence[Category]) -> list[dict]:
    """The ``categories`` of a model's classes (label k + 1 is ``classes[k]``): ``id`` (:func:`category_id`),
    ``wnid``, ``name``."""
    return [{"id": category_id(c, i), "wnid": c.wnid, "name": c.name} for i, c in enumerate(classes)]


def document(model: dict, images: list[dict], classes, detections: list[dict], errors: list[dict]) -> dict:
    """A whole ``boxes.json`` document from its parts (without ``job``: :func:`assemble` adds it for runs)."""
    return {"model": model, "images": images, "categories": categories(classes), "detections": detections,
            "errors": errors}


def image_record(index: int, name: str, width: int, height: int, boxes, scores, labels, classes) -> dict:
    """The part-file record of one detected image: input position ``index`` (its id is ``index + 1``), its
    ``file_name`` and size, and its detections (xyxy ``boxes`` [D, 4] in its pixels, ``scores`` [D], ``labels``
    [D] in 1..C, index + 1 into ``classes``)."""
    return {"index": index, "image": image_entry(index + 1, name, width, height),
            "detections": detection_entries(index + 1, boxes, scores, labels, classes)}


def error_record(index: int, name: str, message: str) -> dict:
    """The part-file record of an input that gave no result: its name in outputs and why."""
    return {"index": index, "error": {"file_name": name, "error": message}}


# ------------------------------------------------------------------------------------------------ conversions
def to_coco_results(doc: dict, gt_ids: CocoGtIds | None = None) -> list[dict]:
    """``boxes.json`` → the COCO results list (``image_id``, ``category_id``, ``bbox``, ``score``), each result also
    with its image's ``file_name`` and its class's ``category_name`` (and ``wnid`` where it has one).

    ``image_id`` is this run's number of the image (its input position), which no ground truth knows: the extra
    keys, which pycocotools ignores (``COCO.loadRes`` keeps them untouched), let ``detect eval`` match each result
    to its image by path and to its class by name, as it does ``boxes.json``, so both files give the same numbers.
    With ``gt_ids`` (:func:`detector.data.coco.coco_gt_ids`, every image of ``doc`` among them) ``image_id`` and
    ``category_id`` are that COCO ground truth's instead, so that pycocotools alone scores the list against it;
    detections of classes it does not have are left out (their ids could only be read as another class's), with
    a warning logged."""
    names = {im["id"]: im["file_name"] for im in doc["images"]}
    cats = {c["id"]: c for c in doc["categories"]}
    out = []
    other_classes: dict[str, int] = {}
    for d in doc["detections"]:
        r = {k: d[k] for k in ("image_id", "category_id", "bbox", "score")}
        r["file_name"] = names[d["image_id"]]
        cat = cats.get(d["category_id"])
        if cat is not None:
            r["category_name"] = cat["name"]
            if cat.get("wnid"):
                r["wnid"] = cat["wnid"]
        if gt_ids is not None:
            key = Category(str(cat["name"]), cat.get("wnid") or None).key if cat is not None else None
            if key not in gt_ids.category_ids:
                name = cat["name"] if cat is not None else f"category {d['category_id']}"
                other_classes[name] = other_classes.get(name, 0) + 1
                continue
            r["image_id"] = gt_ids.image_ids[r["file_name"]]
            r["category_id"] = gt_ids.category_ids[key]
        out.append(r)
    if other_classes:
        logger.warning("%s of %s that %s does not have %s left out of the COCO results (%s)",
                       count(sum(other_classes.values()), "detection"), count(len(other_classes), "class", "classes"),
                       gt_ids.source, "is" if sum(other_classes.values()) == 1 else "are",
                       ", ".join(f"{k} {v}" for k, v in sorted(other_classes.items(), key=lambda kv: -kv[1])[:5])
                       + (", …" if len(other_classes) > 5 else ""))
    return out


def to_image_list(doc: dict) -> str:
    """``boxes.json`` → the evaluation list of its images, ``<file_name> <id>`` per line (the ILSVRC ``name index``
    form, e.g. ``ilsvrc13_val2.txt``): what numbers the images of :func:`to_ilsvrc_text`."""
    return "".join(f"{im['file_name']} {im['id']}\n" for im in doc["images"])


_IMAGE_LIST_LINE = re.compile(r"\S.*\s+\d+")  # a name, white space, an index (as read_image_list splits a line)


def is_image_list_line(line: str) -> bool:
    """Whether ``line`` (stripped) is a line of an ILSVRC image list, ``name index`` (:func:`to_image_list`)."""
    return _IMAGE_LIST_LINE.fullmatch(line) is not None


def image_list_path(path) -> Path:
    """Where ILSVRC text ``sub.txt`` written by ``detect run --format ilsvrc`` has the evaluation list numbering
    its images (:func:`to_image_list`): ``sub.images.txt``."""
    return Path(path).with_suffix(".images.txt")


def job_record_path(path) -> Path:
    """Where a ``coco`` or ``ilsvrc`` output ``path`` has its job record (:func:`job_record`): ``OUT.job.json``
    (``results.json.job.json``, ``sub.txt.job.json``: two outputs of one stem keep two records — trial 44), beside
    the file it writes (a link's target, as the part file: :func:`part_path`)."""
    out = resolved_out(path)
    return out.with_name(out.name + ".job.json")


def _record_name(file, record_path: Path) -> str:
    """How a job record names one of its output's files: the path of the file written (a link's target) relative to
    the record's folder (``results.json``; ``../lists/sub.images.txt`` for an image list beside a link elsewhere)."""
    return Path(os.path.relpath(resolved_out(file), record_path.parent)).as_posix()


def output_paths(path, out_format: str = "json") -> list[tuple[Path, str]]:
    """The files :func:`write` writes for ``path`` in ``out_format``, in the order it writes them, each with what
    it is: ``path`` itself; with ``ilsvrc`` first the image list beside it (:func:`image_list_path`); with ``coco``
    and ``ilsvrc`` last the job record (:func:`job_record_path`) — for the checks a command makes before any work,
    so that a file it cannot write is named before, not after, the detections."""
    own = [(Path(path), "output")]
    if out_format == "ilsvrc":
        own.insert(0, (image_list_path(path), "image list"))
    if out_format in ("coco", "ilsvrc"):
        own.append((job_record_path(path), "job record"))
    return own


JOB_RECORD = "detect run job record"  # the "record" field that tells a job record from any other JSON


def output_entry(out_format: str, coco_gt: "CocoGtIds | None" = None) -> dict:
    """What, beyond the job, decides the text of a ``coco`` or ``ilsvrc`` output: the format and, for ``coco``
    with ``--coco-gt``, that ground truth (its file, and a digest of the ids the results take from it) — kept in
    the job record, so that ``--resume`` does not take another format's output, or results numbered for no (or
    another) ground truth, for this job's finished one (trial 44)."""
    gt = None
    if coco_gt is not None:
        gt = {"file": str(coco_gt.source),
              "ids_sha256": digest([sorted(map(str, coco_gt.image_ids.items())),
                                    sorted(map(str, coco_gt.category_ids.items()))])}
    return {"format": out_format, "coco_gt": gt}


def job_record(doc: dict, files: dict[Path, str], record_path: Path, output: dict | None = None) -> dict:
    """What a ``coco`` or ``ilsvrc`` output, whose format has no place for them, keeps beside it: ``doc``'s
    ``job`` (its identity for ``detect run --resume``: a requeued job whose output is finished redoes nothing, as
    with ``json``), the ``output`` (:func:`output_entry`: its format and COCO ground truth), ``model``, the
    number of ``images`` and the ``errors`` (the inputs that could not be used, with
    their reasons), and the SHA-256 of each file written (``files``: path → text), named relative to the record at
    ``record_path`` — an output replaced or edited since is then no longer this job's."""
    return {"record": JOB_RECORD, "job": doc.get("job"), "output": output, "model": doc.get("model"),
            "images": len(doc["images"]), "errors": doc["errors"],
            "files": {_record_name(p, record_path): hashlib.sha256(text.encode("utf-8")).hexdigest()
                      for p, text in files.items()}}


def is_job_record(path) -> bool:
    """Whether the file at ``path`` is a job record (:func:`beside_file_of`); False for one that is absent or cannot
    be read."""
    try:
        with open(path, "rb") as f:
            return beside_file_of(f.read(4096)) == "job record"
    except OSError:
        return False


def beside_file_of(head: bytes) -> str | None:
    """Which file :func:`write` puts beside its output (named as :func:`output_paths` names it) a file beginning with
    ``head`` (its first bytes, 4096 are enough) is: ``"job record"`` (:func:`job_record`: its head names it so) or
    ``"image list"`` (:func:`to_image_list`: its first line ``name index``, :func:`is_image_list_line`); None for
    any other file and for an empty one."""
    if JOB_RECORD.encode() in head:
        return "job record"
    text = head.decode("utf-8", "replace").strip()
    return "image list" if text and is_image_list_line(text.splitlines()[0].strip()) else None


def _remove_stale_record(path) -> None:
    """A job record left beside ``path`` by a ``coco`` / ``ilsvrc`` output that a ``json`` one has replaced (it
    describes a file no longer there; trial 46): removed — only when it is a job record."""
    record = job_record_path(path)
    if is_job_record(record):
        try:
            record.unlink()
        except OSError:  # not ours to remove after all (a read-only folder): it no longer matches the output
            pass


def _own_image_list(path) -> Path | None:
    """The image list beside ``path`` (:func:`image_list_path`) when the job record there says that ``detect run
    --format ilsvrc`` wrote it with the output at ``path``, and both are still as written (:func:`read_job_record`):
    an output of another format written over that one leaves it describing a file no longer there (trial 65: a
    ``--format json`` run over an ILSVRC output removed the record, and kept the list); else None — a list edited
    since, or of no record, is someone's."""
    record = read_job_record(path)
    if record is None or (record.get("output") or {}).get("format") != "ilsvrc":
        return None
    image_list = image_list_path(path)
    return image_list if _record_name(image_list, job_record_path(path)) in record["files"] else None


def read_job_record(path, *, output_sha256: str | None = None) -> dict | None:
    """The job record (:func:`job_record`) of the ``coco`` or ``ilsvrc`` output ``path`` when it is there, is one,
    and the files it names beside it are still those it was written with (by SHA-256); else None (never raises: a
    record that cannot be used means a job to run again). ``output_sha256``: the SHA-256 (hex) of the content of
    ``path`` itself where the caller has read it, so that a large output is not read a second time to be checked."""
    record_path = job_record_path(path)
    try:
        record = json.loads(record_path.read_bytes())
        own = _record_name(path, record_path)
        if not (isinstance(record, dict) and record.get("record") == JOB_RECORD and isinstance(record.get("job"), dict)
                and isinstance(record.get("files"), dict) and own in record["files"]):
            return None
        for name, sha in record["files"].items():
            if output_sha256 is not None and name == own:
                if output_sha256 != sha:
                    return None
            elif hashlib.sha256((record_path.parent / name).read_bytes()).hexdigest() != sha:
                return None
    except (OSError, ValueError):  # absent, unreadable, not JSON (UnicodeDecodeError is a ValueError)
        return None
    return record


def to_ilsvrc_text(doc: dict) -> str:
    """``boxes.json`` → ILSVRC submission lines ``<image_id> <det_id> <score> <xmin> <ymin> <xmax> <ymax>``
    (0-based inclusive pixels). The image index is the image's ``id`` in ``doc``: pair the text with
    :func:`to_image_list` to evaluate it. Classes without a det_id cannot be written in this format and are left
    out."""
    lines = []
    for d in doc["detections"]:
        if d["category_id"] > 200:
            continue
        b = xyxy_to_ilsvrc(xywh_to_xyxy(d["bbox"]))[0]
        lines.append(f"{d['image_id']} {d['category_id']} {d['score']:.5f} {b[0]:.2f} {b[1]:.2f} {b[2]:.2f} "
                     f"{b[3]:.2f}\n")
    return "".join(lines)


def write(path, doc: dict, out_format: str = "json", *, coco_gt: CocoGtIds | None = None) -> int:
    """Write a document atomically as ``json`` (itself), ``coco`` (:func:`to_coco_results`; ``coco_gt``: with that
    ground truth's ids) or ``ilsvrc`` (:func:`to_ilsvrc_text`, plus the evaluation list numbering its images at
    :func:`image_list_path`: ``detect eval --image-list`` needs it); ``coco`` and ``ilsvrc`` then the job record
    (:func:`job_record`) at :func:`job_record_path`. Returns the number of detections written —
    fewer than ``doc`` holds where the format leaves some out (classes without a det_id in ``ilsvrc``, classes
    ``coco_gt`` lacks). Raises ``OSError`` when one of its files (:func:`output_paths`) cannot be written, its
    ``filename`` the file's."""
    if coco_gt is not None and out_format != "coco":
        raise ValueError(f"a COCO ground truth's ids apply to the coco format, not to {out_format!r}")
    stale_list = _own_image_list(path) if out_format != "ilsvrc" else None  # read before the output is replaced
    if out_format == "json":
        atomic_write_json(path, doc)
        _remove_stale_record(path)
        _remove_stale_list(stale_list)
        return len(doc["detections"])
    if out_format == "coco":
        results = to_coco_results(doc, coco_gt)
        files = {Path(path): json.dumps(results)}
        written = len(results)
    elif out_format == "ilsvrc":
        text = to_ilsvrc_text(doc)
        files = {image_list_path(path): to_image_list(doc), Path(path): text}  # output_paths' order
        written = text.count("\n")
    else:
        raise ValueError(f"out_format must be one of {', '.join(OUTPUT_FORMATS)}, got {out_format!r}")
    for file, text in files.items():
        atomic_write_text(file, text)
    record = job_record_path(path)  # last: a record always describes its files
    atomic_write_json(record, job_record(doc, files, record, output_entry(out_format, coco_gt)))
    _remove_stale_list(stale_list)
    return written


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"  # as float() reads one, nan and inf aside
# how each format of write() begins, written by this module or by another tool in that form: a document
# (document(), assemble(), merge_outputs(): "model" first), COCO results (a list, "image_id" first, or none), ILSVRC
# submission lines (to_ilsvrc_text(): image index, det_id, score, four corners)
_OUTPUT_HEADS = {"json": re.compile(r'\s*\{\s*"model"\s*:'),
                 "coco": re.compile(r'\s*\[\s*(?:\]|\{\s*"image_id"\s*:)'),
                 "ilsvrc": re.compile(r"\s*\d+[ \t]+\d+(?:[ \t]+%s){5}[ \t]*\r?(?:\n|$)" % _NUMBER)}
_COCO_RESULT_KEYS = frozenset({"image_id", "category_id", "bbox", "score"})


def output_format_of(head: bytes, data=None) -> str | None:
    """The format of :func:`write` — ``"json"``, ``"coco"`` or ``"ilsvrc"`` — that a file beginning with ``head``
    (its first bytes, a few hundred are enough; read as :func:`detector.data.io.decode_head` reads them: a
    byte-order mark or UTF-16 is no other file) is an output of, told by how each begins; None for any other file
    (a COCO ground truth, someone's notes, a model) and for an empty one. ``data``: the file's JSON, where the
    caller has parsed it: an output that another tool wrote again with its keys in another order (``jq -S``,
    ``json.dump(sort_keys=True)``) is told by its form — an object with lists under ``images``, ``categories``
    and ``detections`` (what :func:`read_detections` reads), a list of objects each with ``image_id``,
    ``category_id``, ``bbox`` and ``score``."""
    text = decode_head(head)
    fmt = next((fmt for fmt, pattern in _OUTPUT_HEADS.items() if pattern.match(text)), None)
    if fmt is not None or data is None:
        return fmt
    if isinstance(data, dict) and all(isinstance(data.get(k), list) for k in ("images", "categories", "detections")):
        return "json"
    if isinstance(data, list) and all(isinstance(d, dict) and _COCO_RESULT_KEYS <= d.keys() for d in data):
        return "coco"
    return None


def _remove_stale_list(image_list: Path | None) -> None:
    """The image list of an ILSVRC output that another format's has replaced (:func:`_own_image_list`): removed."""
    if image_list is not None:
        try:
            image_list.unlink()
        except OSError:  # gone already, or not ours to remove after all (a read-only folder)
            pass


# ------------------------------------------------------------------------------------------------ part files, shards
@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``: a contiguous block of the input list, so that shards in order concatenate to
    the input order. Shard sizes differ by at most one image."""

    index: int = 0
    count: int = 1

    def __post_init__(self):
        if not (isinstance(self.count, int) and self.count >= 1 and 0 <= self.index < self.count):
            n = self.count
            counted = ""
            if isinstance(n, int) and n >= 1 and isinstance(self.index, int) and self.index >= n:
                which = "the only one is 0/1" if n == 1 else f"the 2 shards are 0/2 and 1/2" if n == 2 else \
                    f"the {n} shards are 0/{n} … {n - 1}/{n}"
                counted = f" (shards count from 0: {which})"
            raise ValueError(f"a shard is I/N with 0 <= I < N{counted}, got {self.index}/{n}")

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
    """The part file of a run writing ``out``: ``OUT.part.jsonl`` beside the file it writes (a link's target:
    :func:`detector.data.io.resolved_out`)."""
    out = resolved_out(out)
    return out.with_name(out.name + ".part.jsonl")


def unfinished_run_note(path, text: str) -> str | None:
    """When ``text`` (the content of ``path``) is a part file — the first line ``{"header": …}`` —, what to say
    instead of "not JSON": it is an unfinished run's, and how to finish it; else None."""
    first = text.lstrip().split("\n", 1)[0]
    try:
        is_part = first.startswith('{"header"') and isinstance(json.loads(first).get("header"), dict)
    except (json.JSONDecodeError, AttributeError):
        is_part = False
    if not is_part:
        return None
    name = Path(path).name
    out = name[: -len(".part.jsonl")] if name.endswith(".part.jsonl") else "its --out"
    return (f"{path} is the part file of an unfinished `detect run` (results as they came, one per line), not its "
            f"output: finish the run (the same command with --resume) to write {out}")


def header(job: dict, model: dict, classes: Sequence[Category], settings: dict | None = None,
           names: Sequence[str] | None = None) -> dict:
    """The first line of a part file: the ``job`` (identity for ``--resume`` and ``merge``), the ``model`` entry,
    the ``categories`` of the model's classes and, when given, the ``settings`` the job's digest covers in plain
    form (a refused ``--resume`` names those that differ; :func:`assemble` puts them in the output's ``job``, where
    a refused merge reads them) and the ``input_names`` whose digest is ``job.inputs_sha256`` (a refused
    ``--resume`` names an image added or gone; not copied into the output). A header written before either was
    kept still reads: only what differs is then told less precisely."""
    out = {"job": job, "model": model, "categories": categories(classes)}
    if settings is not None:
        out["settings"] = settings
    if names is not None:
        out["input_names"] = list(names)
    return out


def inputs_differences(before: dict, now: dict, *, labels: tuple[str, str] = ("now", "before")) -> str:
    """How two jobs' input lists differ, for a message: their counts (``7 inputs now, 6 in that run``), then, where
    both name their inputs (``{"inputs": n, "names": [...]}``; ``names`` may be missing), the first image in one and
    not the other (``new now: g.jpg and 1 more; not now: a.jpg``) or that the same images are in another order."""
    after_now, after_before = labels
    n_now, n_before = now.get("inputs"), before.get("inputs")
    out = []
    if isinstance(n_now, int):
        out.append(f"{n_now} input{'' if n_now == 1 else 's'} {after_now}"
                   + (f", {n_before} {after_before}" if isinstance(n_before, int) else ""))
    new, old = now.get("names"), before.get("names")
    if isinstance(new, list) and isinstance(old, list):
        new_set, old_set = set(new), set(old)
        for what, names, others in ((f"new {after_now}", new, old_set), (f"not {after_now}", old, new_set)):
            extra = [n for n in names if n not in others]
            if extra:
                out.append(f"{what}: {extra[0]}" + (f" and {len(extra) - 1} more" if len(extra) > 1 else ""))
        if new_set == old_set and new != old:
            out.append("the same images in another order")
    return "; ".join(out)


def shard_name(shard) -> str:
    """A job's ``shard`` entry as ``--shard`` gives it (``0/2``), or ``none``."""
    return f"{shard.get('index')}/{shard.get('count')}" if isinstance(shard, dict) else "none"


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
        fd = _open_part(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        fresh = os.fstat(fd).st_size == 0
        if not fresh:
            _cut_torn_tail(fd)
        self._f = os.fdopen(fd, "a", encoding="utf-8")
        if fresh:
            self._f.write(json.dumps({"header": self.header}, allow_nan=False) + "\n")
            self.sync()
        self._last_sync = time.monotonic()

    def write(self, record: dict) -> None:
        line = json.dumps(record, allow_nan=False) + "\n"  # ValueError, TypeError: the record is no JSON
        with self._naming_the_file():
            self._f.write(line)
            self._f.flush()
        self._pending += 1
        if self._pending >= self.sync_every or time.monotonic() - self._last_sync >= self.sync_seconds:
            self.sync()

    def sync(self) -> None:
        with self._naming_the_file():
            self._f.flush()
            os.fsync(self._f.fileno())
        self._pending = 0
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._f is not None and not self._f.closed:
            try:
                self.sync()
            finally:
                try:
                    self._f.close()
                except OSError:  # the same failed write again (a full disk): sync has said it
                    pass

    @contextlib.contextmanager
    def _naming_the_file(self):
        """An ``OSError`` of a write or sync (a full disk, a file over its size limit), which names no file, names
        the part file (trial 32: "stopped by an I/O error: [Errno 27] File too large")."""
        try:
            yield
        except OSError as e:
            if e.filename is not None:
                raise
            raise OSError(e.errno, e.strerror or str(e), str(self.path)) from e

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _open_part(path: Path, flags: int) -> int:
    """``os.open`` of a part file without following a symbolic link (``O_NOFOLLOW``, as the lock is opened): the
    results are never written through a link into the file it points to. Raises ``OSError`` naming the file and
    saying so for a link."""
    try:
        return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError:
        if path.is_symlink():
            raise OSError(errno.ELOOP, "it is a symbolic link, which the run never writes its results through (it "
                                       "would fill the file the link points to): remove the link",
                          str(path)) from None
        raise


def _cut_torn_tail(fd: int) -> None:
    """Truncate a last line that a kill cut short (no newline), so that appending starts on a fresh line (``fd``:
    the part file, open for reading and writing)."""
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0)
    if data and not data.endswith(b"\n"):
        os.ftruncate(fd, data.rfind(b"\n") + 1)


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
    """Records → the ``boxes.json`` document (the module docstring), images, detections, errors and drawing errors
    (only when there are some) in input order; ``drawing`` when the records of every image drawn say they were drawn
    at one ``draw_threshold`` (not when some say none: a part file of an older version, or a run without ``--draw``
    resumed with it)."""
    images, detections, errors, not_drawn = [], [], [], []
    drawn_at = set()
    for index in sorted(records):
        rec = records[index]
        if "error" in rec:
            errors.append(rec["error"])
        else:
            images.append(rec["image"])
            detections.extend(rec["detections"])
            if "drawing_error" in rec:
                not_drawn.append({"file_name": rec["image"]["file_name"], "error": rec["drawing_error"]})
            else:
                drawn_at.add(rec.get("draw_threshold"))
    job = dict(header["job"])
    if isinstance(header.get("settings"), dict):  # the digest's settings in plain words (merge names what differs)
        job["settings"] = header["settings"]
    doc = {"model": header["model"], "images": images, "categories": header["categories"],
           "detections": detections, "errors": errors, "job": job}
    if not_drawn:
        doc["drawing_errors"] = not_drawn
    if len(drawn_at) == 1 and None not in drawn_at:
        doc["drawing"] = {"threshold": drawn_at.pop()}
    return doc


def differences(before: dict, now: dict, *, labels: tuple[str, str] = ("now", "before"),
                shown: Callable[[dict, str], str] | None = None,
                unused: Callable[[dict, str], bool] | None = None, named: Callable[[str], str] | None = None) -> str:
    """What differs between two runs' jobs, one ``name: value now, value before`` for each (``labels``: the words
    after each value, e.g. ``("now", "in that run")``), joined by ``; ``: the classifier's member files, the MultiBox
    file (named with the start of its SHA-256, when both runs used one and their bytes differ), then the settings,
    but those ``unused(now's settings, name)`` says the run ``now`` ignores (:func:`detector.engines.setting_unused`:
    selective search's under MultiBox proposals alone). ``named(name)``: how a setting is named (the option that
    sets it, :func:`detector.nn.options.option_flag`: ``--nms soft now, greedy in that run``, as every refused
    resume names it); without it, ``name:``.
    ``shown(settings, name)``: a setting's value for the message, one left out of ``settings`` included — the
    caller knows the defaults and why a setting is left out (:func:`detector.engines.shown_setting`: ``200 (the
    default)``, ``not used (--proposals ss)``); without it, JSON or ``the default``. ``before`` / ``now``:
    ``{"files": [...], "multibox": {"file": ..., "sha256": ...}, "settings": {...}}`` as a part-file header or an
    output keeps them (the model entry's ``files``, ``files_sha256`` — compared by content when both have them,
    else by name — and ``multibox``; any may be missing);
    "" when nothing can be told."""
    out = []
    after_now, after_before = labels
    files_old, files_new = before.get("files"), now.get("files")
    sha_old, sha_new = before.get("files_sha256"), now.get("files_sha256")
    if isinstance(files_old, list) and isinstance(files_new, list):
        if (isinstance(sha_old, list) and isinstance(sha_new, list) and len(sha_old) == len(files_old)
                and len(sha_new) == len(files_new)):  # by content (trial 49: one file named two ways was listed)
            if sha_old != sha_new:
                # the same number of members: only those that differ (trial 52: 8 hashes to compare by eye)
                pairs = [k for k in range(len(sha_new)) if sha_new[k] != sha_old[k]] \
                    if len(sha_old) == len(sha_new) else range(max(len(sha_new), len(sha_old)))

                def listed(files, shas):
                    return ", ".join(f"{files[k]} (sha256 {str(shas[k])[:12]}…)" for k in pairs if k < len(files))

                out.append(f"model files: {listed(files_new, sha_new)} {after_now}, "
                           f"{listed(files_old, sha_old)} {after_before}")
        elif files_old != files_new:  # an output of before the digests: by name
            out.append(f"model files: {', '.join(map(str, files_new))} {after_now}, "
                       f"{', '.join(map(str, files_old))} {after_before}")
    mb_old, mb_new = before.get("multibox"), now.get("multibox")
    if isinstance(mb_old, dict) and isinstance(mb_new, dict) and mb_old.get("sha256") != mb_new.get("sha256"):
        def file_of(mb: dict) -> str:
            return f"{mb.get('file')} (sha256 {str(mb.get('sha256'))[:12]}…)"

        out.append(f"MultiBox file: {file_of(mb_new)} {after_now}, {file_of(mb_old)} {after_before}")
    old, new = before.get("settings"), now.get("settings")
    if isinstance(old, dict) and isinstance(new, dict):
        if shown is None:
            def shown(d, k):
                return json.dumps(d[k]) if k in d and d[k] is not None else "the default"

        if named is None:
            def named(k):
                return f"{k}:"

        out += [f"{named(k)} {shown(new, k)} {after_now}, {shown(old, k)} {after_before}"
                for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k) and not (unused and unused(new, k))]
    return "; ".join(out)


def job_summary(model, settings) -> dict:
    """What :func:`differences` compares of a job: its ``model`` entry's member ``files`` and ``multibox``, and its
    ``settings`` (a part-file header keeps them at its top, a shard output in ``model`` and ``job``; either may be
    missing or malformed in an older or foreign file)."""
    model = model if isinstance(model, dict) else {}
    return {"files": model.get("files"), "files_sha256": model.get("files_sha256"), "multibox": model.get("multibox"),
            "settings": settings}


def merge_outputs(docs: list[tuple[str, dict]], *, allow_partial: bool = False,
                  shown: Callable[[dict, str], str] | None = None,
                  unused: Callable[[dict, str], bool] | None = None,
                  named: Callable[[str], str] | None = None) -> dict:
    """Shard outputs ``[(name, boxes.json document)]`` → one document equal to a single run over all the inputs.

    Refused (:class:`MergeError`, naming the files): a file that is not a shard output, shards of different jobs
    (inputs, configuration, model or categories differ) or of different splits, the same shard twice, images that
    appear in two parts, and, unless ``allow_partial``, missing shards. ``shown``: how a differing setting is
    named (with ``named``), ``unused``: which are not (:func:`differences`)."""
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
        for key, what in (("inputs", "number of inputs"), ("inputs_sha256", "input lists"),
                          ("config_sha256", "model or settings")):
            if job.get(key) != job0.get(key):
                labels = (f"in {name}", f"in {name0}")
                if key == "config_sha256":
                    which = differences(job_summary(doc0.get("model"), job0.get("settings")),
                                        job_summary(doc.get("model"), job.get("settings")), labels=labels, shown=shown,
                                        unused=unused, named=named)
                elif key == "inputs":
                    which = inputs_differences(job0, job, labels=labels)
                else:
                    which = ""
                raise MergeError(f"{name} and {name0} come from different jobs: their {what} differ"
                                 + (f": {which}" if which else ""))
        if doc.get("categories") != doc0.get("categories"):
            raise MergeError(f"{name} and {name0} have different categories")
        if job["shard"]["count"] != count:
            raise MergeError(f"{name} is shard {job['shard']['index']}/{job['shard']['count']} but {name0} is "
                             f"one of {count}: shards of different splits")
        i = job["shard"]["index"]
        if i in seen:
            raise MergeError(f"{name} is given twice" if os.path.realpath(name) == os.path.realpath(seen[i]) else
                             f"{name} and {seen[i]} are both shard {i}/{count}")
        seen[i] = name
    missing = sorted(set(range(count)) - set(seen))
    if missing and not allow_partial:
        raise MergeError(f"shard(s) {', '.join(f'{i}/{count}' for i in missing)} missing (pass --allow-partial "
                         "to merge what is there)")
    parts.sort(key=lambda p: p[2]["shard"]["index"])
    owner: dict = {}
    images, detections, errors, not_drawn = [], [], [], []
    drawings = []  # each part's "drawing": kept when all say one threshold, as one run's output would
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
        not_drawn.extend(doc.get("drawing_errors") or [])
        if doc["images"]:  # a shard without images drew nothing
            drawings.append(doc.get("drawing"))
    job = {k: v for k, v in job0.items() if k != "shard"}
    if missing:
        job["missing_shards"] = [f"{i}/{count}" for i in missing]
    model = dict(doc0["model"])
    merged = {"model": model, "images": images, "categories": doc0["categories"], "detections": detections,
              "errors": errors, "job": job}
    if not_drawn:
        merged["drawing_errors"] = not_drawn
    if drawings and isinstance(drawings[0], dict) and all(d == drawings[0] for d in drawings):
        merged["drawing"] = drawings[0]
    return merged


# ------------------------------------------------------------------------------------------------ reading
def read_document(path) -> dict:
    """A ``boxes.json`` file's JSON as it is — UTF-8, or as another tool saved it again, with a byte-order mark or
    as UTF-16 (:func:`~detector.data.io.read_text`, as ``detect eval`` reads it: a part with a BOM was refused by
    ``detect merge`` and a finished output with one run again by ``--resume``; trial 69); :class:`BoxesJsonError`
    naming the file when it cannot be read or is not JSON. :func:`merge_outputs` and :func:`read_detections` check
    the content."""
    path = Path(path)
    text = ""
    try:
        text = read_text(path)
        return json.loads(text)
    except json.JSONDecodeError as e:
        if not text.strip():
            raise BoxesJsonError(f"{path}: the file is empty: not a boxes.json") from None
        raise BoxesJsonError(unfinished_run_note(path, text) or f"{path}: not a readable boxes.json ({e})") from None
    except UnicodeDecodeError as e:
        raise BoxesJsonError(f"{path}: {not_text(e)}, not a boxes.json") from None
    except RecursionError:
        raise BoxesJsonError(f"{path}: {TOO_DEEP}: not a boxes.json") from None
    except OSError as e:
        raise BoxesJsonError(f"{path}: not a readable boxes.json ({e})") from None


def _finite(values, where: str) -> None:
    for v in values:
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise BoxesJsonError(f"{where}: expected finite numbers, got {v!r}")


def check_bbox(d: dict, where: str) -> list:
    """A detection entry's COCO ``bbox`` (and ``score``), checked: 4 finite numbers and a finite score, width and
    height not negative; :class:`BoxesJsonError` saying ``where`` otherwise. Also for COCO results entries."""
    bbox = d["bbox"]
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise BoxesJsonError(f"{where}: bbox must be [x, y, w, h], got {bbox!r}")
    _finite([*bbox, d["score"]], where)
    if bbox[2] < 0 or bbox[3] < 0:
        raise BoxesJsonError(f"{where}: bbox [x, y, w, h] has a negative width or height: {bbox!r}")
    if not box_in_float_range(*bbox):
        raise BoxesJsonError(f"{where}: bbox {bbox!r} has a number too large for a box")
    return bbox


def check_image_id(value, where: str, field_name: str = "image_id"):
    """An image id as COCO allows it (pycocotools takes integers and strings); an integral float is an integer.
    :class:`BoxesJsonError` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, str, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise BoxesJsonError(f"{where}: {field_name} must be an integer or a string, got {value!r}")
    return int(value) if isinstance(value, float) else value


def other_json_kind(data, source, *, wanted: str = "detections") -> str | None:
    """What the JSON ``data`` (read from ``source``, a path) is when it is another file that detect writes
    beside its detections, or ground truth — a job record (:func:`job_record`: then the output it describes, to give
    instead), proposals or the ``--json`` report of ``detect proposals``, the ``--json`` report of ``detect eval``,
    COCO ground truth —, in words for a message; None for anything else. The one place such files are told apart:
    where detections are expected (trial 63: each was "expected a list under 'images'"), and, with ``wanted="ground
    truth"``, where annotations are (then without the advice to give a detection file; ground truth is no other
    kind there, and detections — a boxes.json, a COCO results list — are one, which `detect eval` takes as
    ``--pred``: trial 67, 68)."""
    for_detections = wanted == "detections"
    if not for_detections and output_format_of(b"", data) in ("json", "coco"):
        what = ("a `detect run` output (boxes.json: 'detections', no 'annotations')" if isinstance(data, dict) else
                "a COCO results list (detections with scores, no images or categories)")
        return f"it is {what}, not {wanted}: `detect eval` takes it as --pred"
    if not isinstance(data, dict):
        return None
    give_run = ": give the output of `detect run`" if for_detections else ""
    if data.get("record") == JOB_RECORD:
        files = data.get("files")
        named = [n for n in files if isinstance(n, str)] if isinstance(files, dict) else []
        # the output is the last file its record names (an ILSVRC output's image list comes first); else its name
        out = Path(source).parent / named[-1] if named else Path(str(source).removesuffix(".job.json"))
        fmt = (data.get("output") or {}).get("format") if isinstance(data.get("output"), dict) else None
        return (f"it is the job record of {out} (`detect run --format {fmt or 'coco/ilsvrc'}` writes it beside its "
                "output)" + (f": give {out} itself" if for_detections else f", not {wanted}"))
    if "box_format" in data and "method" in data:
        return f"it is proposals of `detect proposals` (boxes per image to classify), not {wanted}"
    methods = data.get("methods")
    if isinstance(methods, dict) and any(isinstance(m, dict) and "boxes_per_image" in m for m in methods.values()):
        return ("it is the report of `detect proposals --json` (how many proposals, their recall), "
                f"not {wanted}{give_run}")
    if "metric" in data and ("per_class" in data or "datasets" in data):
        return f"it is the report of `detect eval --json` (APs), not {wanted}{give_run}"
    if for_detections and isinstance(data.get("annotations"), list) and "detections" not in data:
        return "it is a COCO ground-truth file: its 'annotations' are objects, not a detector's detections"
    return None


@dataclass(frozen=True, eq=False)
class Detections:
    """The D detections of a document, checked, as columns; numbers as the file gives them (float64)."""

    image_names: tuple[str, ...]  # [D] the file_name of each detection's image
    image_ids: tuple[int | str, ...]  # [D] its image id
    categories: tuple[Category, ...]  # the document's categories (``source_id``: the category id in the file)
    labels: np.ndarray  # int64 [D] index into categories
    scores: np.ndarray  # float64 [D]
    xywh: np.ndarray  # float64 [D, 4] the file's own COCO boxes
    errors: tuple[dict, ...] = ()  # images the detector could not read ("errors")


def read_detections(data: dict, source) -> Detections:
    """The detections of a ``boxes.json`` document ``data`` (read from ``source``, a file name for messages), each
    checked against ``images`` and ``categories``. Raises :class:`BoxesJsonError` naming ``source`` and the entry."""
    for key in ("images", "categories", "detections"):
        if not isinstance(data.get(key), list):
            what = other_json_kind(data, source)
            raise BoxesJsonError(f"{source}: not a boxes.json file: " +
                                 (what if what is not None else f"expected a list under {key!r}"))
    names = {}
    for i, im in enumerate(data["images"]):
        if (lack := missing_fields(im, "id", "file_name")) is not None:
            raise BoxesJsonError(f"{source}: images[{i}] {lack}")
        image_id = check_image_id(im["id"], f"{source}: images[{i}]", "id")
        if image_id in names:
            raise BoxesJsonError(f"{source}: images[{i}]: image id {im['id']!r} is given twice")
        names[image_id] = str(im["file_name"])
    cats: dict[int, int] = {}
    cat_list: list[Category] = []
    for i, c in enumerate(data["categories"]):
        if (lack := missing_fields(c, "id", "name")) is not None:
            raise BoxesJsonError(f"{source}: categories[{i}] {lack}")
        wnid = c.get("wnid")
        vocab = ilsvrc_by_wnid().get(wnid) if wnid else None
        cats[c["id"]] = len(cat_list)
        cat_list.append(Category(str(c["name"]), wnid or None, vocab.det_id if vocab else None, source_id=c["id"]))
    n = len(data["detections"])
    image_names, image_ids, bboxes = [], [], []
    labels, scores = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.float64)
    for i, d in enumerate(data["detections"]):
        where = f"{source}: detections[{i}]"
        if not isinstance(d, dict) or not {"image_id", "category_id", "bbox", "score"} <= d.keys():
            raise BoxesJsonError(f"{where} lacks one of 'image_id', 'category_id', 'bbox', 'score'")
        if d["category_id"] not in cats:
            raise BoxesJsonError(f"{where}: unknown category_id {d['category_id']!r} (not in 'categories')")
        image_id = check_image_id(d["image_id"], where)
        if image_id not in names:
            raise BoxesJsonError(f"{where}: unknown image_id {d['image_id']!r} (not in 'images')")
        bboxes.append(check_bbox(d, where))
        image_names.append(names[image_id])
        image_ids.append(image_id)
        labels[i] = cats[d["category_id"]]
        scores[i] = d["score"]
    errors = tuple(e for e in data.get("errors") or [] if isinstance(e, dict))
    return Detections(tuple(image_names), tuple(image_ids), tuple(cat_list), labels, scores,
                      np.asarray(bboxes, dtype=np.float64).reshape(n, 4), errors)
