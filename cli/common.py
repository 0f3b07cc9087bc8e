"""Options and helpers shared by the ``detect`` commands. Option defaults read the library's config dataclasses,
where each default is written once with its source."""

from __future__ import annotations

import contextlib
import errno
import functools
import glob
import json
import math
import os
import re
import signal
import sys
import threading
from pathlib import Path

import click

from detector.data import FORMATS, Dataset, DatasetError, read_dataset
from detector.data.boxes_json import beside_file_of, job_record_path, output_format_of, output_paths
from detector.data.coco import CocoGtIds
from detector.data.names import IMAGE_SUFFIXES
from detector.data.io import (JobLock, LockedError, binary_kind, check_writable_dir,  # noqa: F401 - count: the commands'
                               count, decode_head, missing_link_folder, not_a_file)
from detector.nn import distributed
from detector.nn.device import DeviceError, parse_device
from detector.nn.loop import LoopState, finished_state, last_path, log_path, state_path, stopped_run
from detector.nn.options import option_flag
from proposals.proposers import PROPOSERS, ProposalConfig, beyond_k_warning
from proposals.selective_search import MAX_RESIZE_WIDTH as SS_MAX_RESIZE_WIDTH
from proposals.selective_search import MAX_SCALE as SS_MAX_SCALE
from proposals.selective_search import MIN_SCALE as SS_MIN_SCALE
from proposals.selective_search import MODES as SS_MODES

FORMAT_CHOICES = ("auto", *FORMATS)


class FiniteFloat(click.FloatRange):
    """A float option within a range (``click.FloatRange``'s arguments) that is also a finite number: ``nan``
    passes every comparison of a range check and ``inf`` is no setting either, so both are refused as usage errors
    ("nan is not a number") before any work. Every float option of the ``detect`` commands has this type."""

    name = "float"

    def convert(self, value, param, ctx):
        rv = click.types.FloatParamType.convert(self, value, param, ctx)
        if math.isnan(rv):
            self.fail(f"{value} is not a number", param, ctx)
        if math.isinf(rv):
            self.fail(f"{value} is not a finite number", param, ctx)
        return super().convert(rv, param, ctx)


def check_out_folder(folder, what: str) -> None:
    """Before any work: make ``folder`` if need be and prove files can be written in it
    (:func:`detector.data.io.check_writable_dir`), else a ``ClickException`` naming ``what`` and the reason."""
    try:
        check_writable_dir(folder)
    except OSError as e:
        raise click.ClickException(f"cannot write {what}: {e.filename or folder}: {e.strerror or e}") from None


def warn_multibox_top(top: int, multibox, path, whose: str = "") -> None:
    """Warn (rank 0) when ``--multibox-top`` ``top`` — given, or a preset's (``whose``: " (the preset's)") — is
    more than the K boxes the MultiBox network ``multibox`` (loaded from ``path``) outputs
    (:func:`proposals.proposers.beyond_k_warning`; ``detect run --proposals multibox --multibox-top 500`` with the
    bundled K = 200 network proposed 200 at most, without a word). ``multibox`` None (no MultiBox in the run):
    nothing."""
    if (text := beyond_k_warning(top, multibox, f"--multibox-top {top}{whose}", path)) and distributed.is_main():
        click.echo(f"warning: {text}", err=True)


class OutFile(click.Path):
    """``--out FILE``: a file to write (a ``Path``), never a folder. A name ending in a separator (``newdir/``, which
    ``Path`` would turn into a file ``newdir``) or naming an existing folder is refused, suggesting
    ``<folder>/<example>``; so is a device, a pipe or a socket (``--out /dev/null``: the output is renamed into place,
    which would replace the device itself), and an empty path (``--out ''``, which ``Path`` would read as ``.``). A
    symbolic link to a file is written through; a link whose target's folder does not exist is refused (no folder
    is made where the user never named one: :func:`detector.data.io.missing_link_folder`). An existing file that
    the output may not replace is the command's to refuse, after its own checks (:func:`refuse_replacing_others`,
    :func:`refuse_binary_outputs`)."""

    def __init__(self, example: str):
        super().__init__(dir_okay=False, path_type=Path)
        self.example = example

    def convert(self, value, param, ctx):
        text = os.fspath(value)
        if not text:
            self.fail(f"empty path: give the path of a file to write, such as {self.example}", param, ctx)
        if text.endswith(("/", os.sep)) or os.path.isdir(text):
            self.fail(f"{text} names a folder; give a file such as {Path(text) / self.example}", param, ctx)
        what = not_a_file(text)
        if what is not None:  # a device (/dev/null), a pipe, a socket: renaming the output over it would replace it
            self.fail(f"{text} is {what}, not a file: give the path of a file to write", param, ctx)
        if (link := _dangling_link(text)) is not None:
            self.fail(f"{text} is {link} (no folder is made for a link's target): create that folder, or give another "
                      "path", param, ctx)
        return super().convert(value, param, ctx)


def refuse_binary_outputs(outputs: dict, own_kind: dict | None = None) -> None:
    """Refuse a text output (``{"--json": path}``, None: not given) that names an existing binary file — a model, an
    image, an archive — which it would replace (`detect eval --json member0.pt` replaced a 4 MB model with a 720-byte
    report): no output of ours is binary, so such a file is someone's. Nor does a text report replace a detector's
    output or a ground truth — a boxes.json, COCO results, an ILSVRC submission, a proposals output, a COCO dataset
    (:func:`_kept_text`; `detect eval --json old.json` replaced a `detect run` output, hours of work, with a
    700-byte report: trial 69). (A report replaces any other text file, its own earlier reports among them; the
    ``--out`` of `detect run`, `merge` and `proposals` replaces its earlier outputs alone:
    :func:`refuse_replacing_others`.)
    ``own_kind``: the outputs among them that are binary, each with the kind of file it writes (``{"--plot": "a PNG
    image"}``): such an output replaces a file of that kind alone, an earlier plot (`detect eval --plot member0.pt`
    replaced a 4 MB model with a PNG)."""
    own_kind = own_kind or {}
    for flag, path in outputs.items():
        if path is not None and (kind := _binary_file(path)) is not None and kind != own_kind.get(flag):
            this = f"this output ({own_kind[flag]})" if flag in own_kind else "this text output"
            raise click.ClickException(f"{flag} {path} exists and is {kind}, which {this} would replace: "
                                       "give another path, or delete it first")
        if path is not None and flag not in own_kind and (kind := _kept_text(path)) is not None:
            raise click.ClickException(f"{flag} {path} exists and is {kind}, which this report would replace: "
                                       "give another path, or delete it first")


def _kept_text(path) -> str | None:
    """What a text file at ``path`` that a report must not replace is, in words — a detector's output
    (:data:`OUTPUT_KINDS`) or a COCO dataset —; None for any other file, or none there (one that cannot be read
    is left to the writing, which says why)."""
    try:
        head = _existing_head(path)
    except OSError:
        return None
    if head is None or _binary_head(head) is not None:
        return None
    data = _json_of(path, head)
    if (kind := output_kind(head, data)) is not None:
        return OUTPUT_KINDS[kind]
    return _COCO_DATASET if _is_coco_dataset(data) else None


_COCO_DATASET = "a COCO dataset (JSON with images and annotations)"


def _is_coco_dataset(data) -> bool:
    """Whether the JSON ``data`` is a COCO dataset (ground truth): an object with ``images`` and ``annotations``."""
    return isinstance(data, dict) and {"images", "annotations"} <= data.keys()


def _binary_file(path) -> str | None:
    """What binary file is at ``path`` (:func:`_binary_head`); None for text, or no file there."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:  # none there (or unreadable: writing says why)
        return None
    return _binary_head(head)


def _binary_head(head: bytes) -> str | None:
    """What binary file begins with ``head`` (:func:`detector.data.io.binary_kind`, or "a binary file" for other
    bytes with a NUL, which no output of ours holds); None for text."""
    return binary_kind(head[:32]) or ("a binary file" if b"\x00" in head else None)


# the outputs a command replaces at its --out: each kind in words (its earlier outputs, told by how they begin or by
# their form: output_kind); detect run and merge replace an earlier output of any of their formats (another --format's
# too)
OUTPUT_KINDS = {"json": "a boxes.json of `detect run`", "coco": "a COCO results list",
                "ilsvrc": "an ILSVRC submission text", "proposals": "a proposals output of `detect proposals`"}
RUN_OUTPUTS = ("json", "coco", "ilsvrc")
# how a proposals output begins (the document of `detect proposals`, written on one line by atomic_write_json)
_PROPOSALS_HEAD = re.compile(r'\{"method": "(%s)", "box_format": "xyxy", "images": \[' % "|".join(PROPOSERS))
_JSON_READ_LIMIT = 64 << 20  # a file beginning as JSON is parsed, to be told by its form, up to this size


def output_kind(head: bytes, data=None) -> str | None:
    """Which of :data:`OUTPUT_KINDS` a file beginning with ``head`` (its first bytes) is an output of, told by how
    it begins or, given ``data`` (the file's JSON), by its form (:func:`detector.data.boxes_json.output_format_of`),
    or a proposals document (told likewise: an object with ``method``, ``box_format`` and a list of ``images``);
    None for any other."""
    proposals = _PROPOSALS_HEAD.match(decode_head(head)) or (
        isinstance(data, dict) and {"method", "box_format"} <= data.keys() and isinstance(data.get("images"), list))
    return output_format_of(head, data) or ("proposals" if proposals else None)


def refuse_replacing_others(flag: str, path, kinds: tuple[str, ...]) -> None:
    """Refuse, before any work (after the checks that name an input it would replace), an output ``path`` (option
    ``flag``) that exists and is not an earlier output of one of ``kinds`` (:data:`OUTPUT_KINDS`, told by
    :func:`output_kind`: also one that an editor saved with a byte-order mark, or another tool wrote again with its
    keys sorted): someone's file — a COCO ground truth, notes, a model — is never replaced (trial 64:
    `detect run --out gt.json` replaced the annotations, where `detect proposals` refused them). An empty file is
    replaced; one that cannot be read is refused. The ``ClickException`` names the file and what it looks like
    (:func:`_looks_like`). Used for ``--out`` by `detect run` and `merge` (:func:`check_beside_out`) and `detect
    proposals`."""
    if path is None:
        return
    try:
        head = _existing_head(path)
    except OSError as e:
        raise click.ClickException(f"cannot read {flag} {path}, which exists: {e.strerror or e}") from None
    if head is None or output_kind(head) in kinds:
        return
    data = _json_of(path, head)  # its form tells an output whose keys another tool put in another order
    if output_kind(head, data) in kinds:
        return
    words = [OUTPUT_KINDS[k] for k in kinds]
    ours = ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]
    raise click.ClickException(f"{flag} {path} exists and is {_looks_like(head, data)}, not an earlier output of "
                               f"this command ({ours}): it would be replaced; give another path, or delete it first")


def _existing_head(path) -> bytes | None:
    """The first bytes (4096) of the file at ``path``, by which an output tells whether it may replace it — an
    earlier output of its kind (:func:`refuse_replacing_others`, :func:`check_beside_out`); None where there is
    nothing to keep: no regular file (absent; a folder or a device is refused by :class:`OutFile` or
    :func:`check_beside_out`), or one of white space alone. Raises ``OSError`` when it cannot be read: the output
    would replace it unread (it is renamed into place), so the caller refuses it."""
    if not Path(path).is_file():
        return None
    with open(path, "rb") as f:
        head = f.read(4096)
        return None if not head.strip() and not f.read(1) else head


def _json_of(path, head: bytes):
    """The JSON of the file at ``path``, beginning with ``head``, when it begins as JSON, holds at most
    :data:`_JSON_READ_LIMIT` bytes and parses (``json.loads`` reads UTF-8/16/32, a byte-order mark too); else
    None."""
    if decode_head(head).lstrip("\ufeff \t\r\n")[:1] not in ("{", "["):
        return None
    try:
        return json.loads(Path(path).read_bytes()) if Path(path).stat().st_size <= _JSON_READ_LIMIT else None
    except (OSError, ValueError, RecursionError):  # RecursionError: '[' nested deeper than json can read (fix65)
        return None


def _looks_like(head: bytes, data=None) -> str:
    """What a file beginning with ``head`` (its JSON ``data``, where it parsed: :func:`_json_of`) looks like, for a
    refusal: one of :data:`OUTPUT_KINDS`, a binary file's kind, a COCO dataset, a JSON object's first keys, or the
    first line of text."""
    if (kind := output_kind(head, data)) is not None:
        return OUTPUT_KINDS[kind]
    if (kind := _binary_head(head)) is not None:
        return kind
    text = decode_head(head).lstrip("\ufeff").strip()
    if text[:1] in ("{", "["):
        if _is_coco_dataset(data):
            return _COCO_DATASET
        if isinstance(data, dict) and data:
            keys = list(data)
            return f"JSON with the keys {', '.join(keys[:5])}{', …' if len(keys) > 5 else ''}"
        return "a JSON list" if isinstance(data, list) else "JSON"
    if not text:  # spaces a bytes' strip() keeps (a no-break space)
        return "blank text"
    first = text.splitlines()[0]
    return f"text beginning {first[:60]!r}{' …' if len(first) > 60 else ''}"


class OutDir(click.Path):
    """A folder a command writes into (``--draw DIR``, ``--cache-dir DIR``, ``train ensemble --out DIR``): an empty
    path is refused, as :class:`OutFile` refuses one — ``Path('')`` is ``.``, so ``--draw ''`` (an unset variable)
    wrote the pictures, and ``--cache-dir ''`` the proposal cache, into the current folder without a word (trial
    59; an empty ``$DETECT_CACHE_DIR`` is the default cache, as documented)."""

    def __init__(self, example: str):
        super().__init__(file_okay=False, path_type=Path)
        self.example = example

    def convert(self, value, param, ctx):
        if not os.fspath(value):
            self.fail(f"empty path: give the folder to write into, such as {self.example}", param, ctx)
        return super().convert(value, param, ctx)


def _dangling_link(path) -> str | None:
    """``path`` in words when it is a symbolic link whose target's folder does not exist
    (:func:`detector.data.io.missing_link_folder`: writing through it is refused), else None."""
    folder = missing_link_folder(path)
    if folder is None:
        return None
    return f"a symbolic link to {os.path.realpath(path)}, whose folder {folder} does not exist"


def check_beside_out(out: Path, out_format: str) -> None:
    """Before any work: the files ``--format`` writes beside ``--out`` (``ilsvrc``: its image list
    ``<stem>.images.txt``; ``coco`` and ``ilsvrc``: the job record ``OUT.job.json``,
    :func:`detector.data.boxes_json.output_paths`) that could not be written once the work is done — a folder, a
    device, a pipe, a socket, a loop of links, a link whose target's folder does not exist, a file that is not
    empty nor one of its kind (:func:`detector.data.boxes_json.beside_file_of`) or cannot be read (someone's own
    file is never replaced; the rule of ``--out``'s, :func:`_existing_head`) — as a ``ClickException`` naming that
    file; ``--out`` itself
    when it exists and is not an earlier output (:func:`refuse_replacing_others`; the rest of its checks are
    :class:`OutFile`'s)."""
    refuse_replacing_others("--out", out, RUN_OUTPUTS)
    for path, what in output_paths(out, out_format):
        if path == out:
            continue
        kind = not_a_file(path) or _dangling_link(path)
        if kind is None:  # as refuse_replacing_others: absent, empty or one of its kind (beside_file_of) is replaced
            try:
                head = _existing_head(path)
            except OSError as e:
                kind = f"a file that cannot be read ({e.strerror or e})"
            else:
                if head is not None and beside_file_of(head) != what:
                    kind = f"a file that is not {_BESIDE_KINDS[what]}"
        if kind is not None:
            raise click.ClickException(f"{path} is {kind}, where --format {out_format} writes the {what} of --out "
                                       f"{out}: remove it, or choose another --out")


# the files detect run and merge write beside --out (boxes_json.output_paths' words), each in words
_BESIDE_KINDS = {"image list": "an image list (`name index` lines)", "job record": "a job record of detect run"}


def format_option(f):
    return click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="auto", show_default=True,
                        help="Annotation format; 'auto' tells it from the path.")(f)


def images_option(f):
    return click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                        help="Folder holding the image files, if not where the annotations suggest.")(f)


def _device_named(ctx, param, value: str) -> str:
    """A string that names no device is a usage error (exit status 2, as any bad option value); a device this
    machine lacks is found when the command resolves it (exit status 1)."""
    if value != "auto":
        try:
            parse_device(value)
        except DeviceError as e:
            several = "," in value and value.replace(",", "").replace(" ", "").isdigit()  # Ultralytics' device=0,1
            hint = f": one GPU is cuda:N{_several_gpus(ctx)}" if several else ""
            raise click.BadParameter(f"{value!r} is {e.why}{hint}") from None
    return value


def _several_gpus(ctx) -> str:
    """How the command behind ``ctx`` uses several GPUs, for ``--device 0,1``'s hint (trial 41: every command said
    torchrun and "Batch jobs", though only training runs under torchrun and "Batch jobs" never names it)."""
    if ctx is not None and ctx.parent is not None and ctx.parent.info_name == "train":
        return "; several: torchrun (see \"Training on several GPUs or machines\")"
    if ctx is not None and ctx.info_name == "run":
        return ("; several: one run per GPU, --shard I/N --device cuda:I, then detect merge, or --engine ray "
                "--ray-gpus (see \"Batch jobs\")")
    return ""


def device_option(f):
    return click.option("--device", default="auto", show_default=True, callback=_device_named,
                        help="auto (CUDA when there is one), cpu, cuda or cuda:N.")(f)


def selective_search_options(f):
    """``--ss-mode``, ``--ss-scale`` and ``--ss-resize-width``, defaulting to :attr:`ProposalConfig.selective_search`
    (the paper's; R-CNN's width 500)."""
    f = click.option("--ss-resize-width", type=click.IntRange(min=0, max=SS_MAX_RESIZE_WIDTH),
                     default=ProposalConfig.selective_search.resize_width, show_default=True,
                     help="Selective search runs on the image resized to this width (R-CNN: 500; 0: as it is); "
                          "boxes come back in the image's pixels. Smaller is faster and finds fewer small "
                          "objects.")(f)
    f = click.option("--ss-scale", type=FiniteFloat(min=SS_MIN_SCALE, max=SS_MAX_SCALE),
                     default=ProposalConfig.selective_search.scale,
                     show_default=True,
                     help="Selective search superpixel scale (the paper: 2, about half the boxes of 1).")(f)
    return click.option("--ss-mode", type=click.Choice(SS_MODES), default=ProposalConfig.selective_search.mode,
                        show_default=True, help="Selective search mode (R-CNN: fast; single: one strategy, one k — "
                                                "the cheapest).")(f)


def multibox_option(f):
    return click.option("--multibox", "multibox_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        default=None, help="MultiBox model for the multibox and both proposals (default: the "
                                           "bundled one).")(f)


def cache_options(f):
    f = click.option("--no-cache", is_flag=True, help="Neither read nor write the proposal cache.")(f)
    return click.option("--cache-dir", type=OutDir("proposal-cache/"), default=None,
                        help="Proposal cache (default: $DETECT_CACHE_DIR or ~/.cache/detect/proposals).")(f)


MAX_WARNINGS_SHOWN = 5  # per ground-truth file read by a command other than `detect inspect` (which lists them all)


def load_dataset(path: Path, fmt: str, *, images=None, image_list=None, strict=True,
                 split: str = "val") -> Dataset:
    """Read ground truth for a command; broken input becomes a ClickException naming the file. Strict reading
    (every command but ``detect inspect``, which prints them itself) prints the reader's warnings — what it read
    anyway, and how (a box outside the image, ``<difficult>maybe</difficult>`` read as 1) — to stderr, the first
    :data:`MAX_WARNINGS_SHOWN` of them (they went unsaid: user trial). ``split``: the split of a YOLO dataset YAML
    to read — ``val`` (evaluation, validation, inspection), ``train`` for the data a command trains on, as
    Ultralytics' ``yolo val`` and ``yolo train`` read a YAML; the split read is said on stderr (strict reading)."""
    try:
        ds = read_dataset(path, None if fmt == "auto" else fmt, images=images, image_list=image_list, split=split,
                          strict=strict)
    except DatasetError as e:
        raise click.ClickException(str(e)) from None
    except ValueError as e:
        raise click.ClickException(f"{path}: {e}") from None
    if strict and ds.split is not None:  # which split of the YAML: the command's, said (another: its images folder)
        click.echo(f"note: {path}: split {ds.split!r} ({count(len(ds), 'image')}; another split: give its images "
                   "folder)", err=True)
    if strict:
        for p in ds.problems[:MAX_WARNINGS_SHOWN]:
            click.echo(f"warning: {p}", err=True)
        if len(ds.problems) > MAX_WARNINGS_SHOWN:
            click.echo(f"warning: … and {len(ds.problems) - MAX_WARNINGS_SHOWN} more in {path} (`detect inspect "
                       f"{path}` lists them all)", err=True)
    return ds


def written_count(doc: dict, written: int, out_format: str, coco_gt: CocoGtIds | None = None) -> str:
    """What a command's summary says it wrote: ``"72 detections"``, and how many of ``doc``'s detections
    :func:`detector.data.boxes_json.write` left out, and why, where it left some out (``"72 detections (27 more
    left out: their classes are not in gt.json)"``)."""
    left_out = len(doc["detections"]) - written
    if not left_out:
        return count(written, "detection")
    why = f"their classes are not in {coco_gt.source}" if coco_gt is not None else \
        "classes without an ILSVRC det_id" if out_format == "ilsvrc" else "the format cannot name their classes"
    return f"{count(written, 'detection')} ({left_out} more left out: {why})"


class Terminated(BaseException):
    """SIGTERM reached a command (``detect run``, ``detect train``). A BaseException, as KeyboardInterrupt: the
    per-image ``except Exception`` that records one image's failure must not swallow it."""


@contextlib.contextmanager
def sigterm_stops():
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (clean-up runs: ``detect run``'s workers
    are stopped, its part file synced); outside a main thread SIGTERM is left as it is."""
    def handler(signum, frame):
        raise Terminated()

    def unraisable(args):  # trial 57: a SIGTERM handled while Python ran an at-fork hook (logging's _releaseLock,
        # as a DataLoader forks its workers) or a finaliser had its Terminated dropped ("Exception ignored in …") and
        # the run went on to its end, exit 0: the signal is sent again, to be handled once back in ordinary code
        if isinstance(args.exc_value, Terminated):
            threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGTERM)).start()
            return
        previous_hook(args)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    previous_hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.unraisablehook = previous_hook


def nothing_to_resume(out: Path, epochs: int | None, state: LoopState | None = None) -> LoopState | None:
    """With ``--resume``: the state of a run writing ``out`` that already finished its ``epochs`` epochs (and a
    note saying so, rank 0), or None when there is training left to do. ``state``: that state, when the caller has
    read it already (:func:`detector.nn.loop.finished_state`)."""
    if state is None and epochs is not None:
        state = finished_state(out, epochs)
    stopped = stopped_run(out) if state is not None else None
    if stopped is not None and epochs is not None and epochs <= stopped[0]:  # trial 32: called "finished"; an
        # ensemble's next member then trained the fewer epochs (trial 34: --epochs equal to those done, too)
        raise click.ClickException(f"cannot resume {out} with --epochs {epochs}: it stopped after {stopped[0]} of its "
                                   f"{count(stopped[1], 'epoch')}; give --epochs {stopped[1]} to go on (or at least "
                                   f"{stopped[0] + 1}), or delete {state_path(out)} to start over")
    if state is not None and epochs is not None and epochs < state.epoch:  # a finished run of more epochs than asked:
        # an ensemble's next members would train fewer than this one has (trial 34)
        raise click.ClickException(f"cannot resume {out} with --epochs {epochs}: it finished "
                                   f"{count(state.epoch, 'epoch')}, more than that; give --epochs {state.epoch} (or "
                                   f"more, to train on), or delete {state_path(out)} to start over")
    if state is not None and distributed.is_main():
        click.echo(f"nothing to resume: {out} finished its {count(state.epoch, 'epoch')} already "
                   f"({state_path(out)}); raise --epochs to train on from there, or delete {state_path(out)} to start "
                   "over", err=True)
    return state


def files_written(out: Path, state: LoopState | None) -> str:
    """The last line of a training command (``detect train classifier``, each ``ensemble`` member, ``multibox``,
    ``distill``): every file it wrote beside ``out``, in the same words for each — ``out`` (the best epoch by
    validation, or the last when ``state`` records no validated epoch), ``<stem>.last.ckpt``, ``<stem>.state.ckpt``
    that ``--resume`` reads, and the log. (``train multibox`` named neither checkpoint; all of them called ``out``
    the best also when no epoch was validated.)"""
    validated = state is not None and state.best > -math.inf
    return (f"wrote {out} ({'best epoch by validation' if validated else 'last epoch: none validated'}), "
            f"{last_path(out)} (last epoch), {state_path(out)} (for --resume), log {log_path(out)}")


def refuse_replacing_inputs(outputs: dict, inputs) -> None:
    """Refuse, before anything is written, an output option (``{"--json": path}``, None: not given) that names a
    file the command reads (``inputs``: paths, None skipped), or two outputs that name one file — as ``detect run``
    refuses an ``--out`` that is one of its images; or one that is a device, a pipe, a socket or a loop of links
    (:func:`detector.data.io.not_a_file`). A command calls :func:`refuse_binary_outputs` after its last such check
    (an input named as one, not as a binary file)."""
    seen: dict[Path, str] = {}
    for flag, path in outputs.items():
        if path is None:
            continue
        what = not_a_file(path)
        if what is not None and what != "a folder":  # a folder: the option's own type refuses it
            raise click.ClickException(f"{flag} {path} is {what}, not a file: give the path of a file to write")
        where = Path(path).resolve()
        if where in seen:
            raise click.ClickException(f"{seen[where]} and {flag} name the same file {path}")
        seen[where] = flag
    existing = {where: flag for where, flag in seen.items() if where.exists()}
    if not existing:  # a file not there yet is nothing the command reads: no input need be resolved (10,000 images)
        return
    for p in inputs:
        if p is not None and (where := Path(p).resolve()) in existing:
            raise click.ClickException(f"{existing[where]} {outputs[existing[where]]} is a file this command reads: "
                                       "it would be replaced")


def dataset_files(ds: Dataset) -> list:
    """The files a ground-truth set was read from: its source, each image's annotation file and image file."""
    return [ds.source, *(im.source or None for im in ds.images), *(im.path for im in ds.images)]


_FLAGS = {"gts": "--gt", "partial_gts": "--gt-partial", "vals": "--val", "teacher_path": "--teacher",
          "photo_paths": "--photos", "val_paths": "--val-photos",
          "priors_path": "--priors"}  # a command's parameter -> its option


def check_training_out(out: Path, options: dict, folder: bool) -> None:
    """Refuse, before any work, a training ``--out`` that would replace what the run reads (its ground truth,
    photos, ``--init``, teacher, priors, hard negatives: any path among ``options``) or an existing file that is no
    model file (a torch archive): an annotation file, a log, a text file. With ``folder`` (an ensemble's ``--out``),
    the files its ``options["members"]`` members and ``ensemble.json`` would be."""
    models = [out / f"member{k}.pt" for k in range(int(options.get("members") or 0))] if folder else [out]
    written = [f for m in models for f in (m, last_path(m), state_path(m), log_path(m))]
    if folder:
        written.append(out / "ensemble.json")
    inputs: dict[Path, tuple[str, Path]] = {}  # resolved -> (option, path as given)
    for key, value in options.items():
        if key == "out" or value is None:
            continue
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(v, Path) and v.exists():
                inputs.setdefault(v.resolve(), (key, v))
    for w in written:
        if w.resolve() in inputs:
            key, given = inputs[w.resolve()]
            flag = option_flag(key, _FLAGS)
            raise click.ClickException(f"--out {out} would replace {given} ({flag}), an input of this run")
    if folder and out.resolve() in inputs:
        raise click.ClickException(f"--out {out} is an input of this run")
    if folder and (out / "ensemble.json").is_file():  # an ensemble.json that is not one of ours is no leftover
        try:
            ours = isinstance(json.loads((out / "ensemble.json").read_text(encoding="utf-8")).get("members"), list)
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise click.ClickException(f"{out / 'ensemble.json'} exists and is not an ensemble listing: it would be "
                                       "replaced (give another --out, or delete it first)")
    for model in models:
        _refuse_companion_clash(out, model)
        if model.is_file():
            if not _is_torch_file(model):
                what = f"--out {out}" if model == out else f"{model} (a member file of --out {out})"
                raise click.ClickException(f"{what} exists and is not a model file: it would be replaced (give "
                                           "another name, or delete it first)")
    if not folder and out.suffix.lower() in _NOT_MODEL_SUFFIXES and distributed.is_main():  # trial 32: unsaid
        click.echo(f"note: --out {out}: a model file (PyTorch) is written under a {out.suffix} name; model files are "
                   "named *.pt", err=True)


_COMPANION_SUFFIXES = (".last.ckpt", ".state.ckpt")  # what a training writes beside its --out (last_path, state_path)


def _is_torch_file(path: Path) -> bool:
    """Whether ``path`` is a file ``torch.save`` wrote (a zip archive); False for any other, or one unreadable."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"  # torch.save writes a zip archive
    except OSError:
        return False


def _refuse_companion_clash(out: Path, model: Path) -> None:
    """Refuse a training model file ``model`` (``--out``, or an ensemble's member file) whose companion files would be
    another run's (trial 68): one named as a training's ``<stem>.last.ckpt`` or ``<stem>.state.ckpt`` — it would
    replace that run's last epoch or its resume state, a model file of the ``--out`` check's eyes —, or one that
    shares its stem with another model file beside it (``m.pth`` beside ``m.pt``: both runs' ``m.last.ckpt``,
    ``m.state.ckpt`` and ``m.log.jsonl`` are one set of files, so the second replaced the first's, or resumed it)
    while those files are there."""
    what = f"--out {out}" if model == out else f"{model} (a member file of --out {out})"
    lower = model.name.lower()
    for suffix in _COMPANION_SUFFIXES:
        if lower.endswith(suffix) and len(lower) > len(suffix):
            owner = model.with_name(model.name[:-len(suffix)] + ".pt")
            kind = "last epoch's model" if suffix == ".last.ckpt" else "resume state"
            raise click.ClickException(
                f"{what} is named as the {kind} a training writes beside its model file (as for --out {owner}): "
                "it could replace that run's file; give another name (model files are named *.pt)")
    companions = [f for f in (last_path(model), state_path(model), log_path(model)) if f.exists()]
    if not companions:
        return
    try:
        siblings = sorted(p for p in model.parent.glob(glob.escape(model.stem) + ".*")
                          if p.stem == model.stem and p.name != model.name and p.is_file() and _is_torch_file(p))
    except OSError:
        return
    if (model.parent / model.stem).is_file() and model.suffix and _is_torch_file(model.parent / model.stem):
        siblings.append(model.parent / model.stem)
    if siblings:
        raise click.ClickException(
            f"{what} would write {', '.join(map(str, companions))}, which belong to {siblings[0]} (a model of the same "
            f"name but its suffix: a training's files beside its model are named by the stem alone): it would replace "
            f"or resume that run's; give another name, or move {siblings[0]} and those files away first")


# suffixes of what the tool reads or writes besides model files: a model under such a name is likely a slip
_NOT_MODEL_SUFFIXES = (".json", ".jsonl", ".txt", ".xml", ".csv", ".onnx", *IMAGE_SUFFIXES)


def take_lock(lock: JobLock, who: str, out: Path) -> JobLock:
    """``lock.acquire()``, or a ``ClickException`` saying that another ``who`` (``"detect run"``, ``"training
    run"``) holds it — which process, which file — and what to do; ``OSError`` (the lock cannot be written) is the
    caller's to say."""
    try:
        return lock.acquire()
    except LockedError as e:
        raise click.ClickException(
            f"another {who}{f' (process {e.holder})' if e.holder else ''} is writing {out} now (it holds {e.path}): "
            "wait for it to finish, or stop it and go on with --resume") from None


def _training_lock(out: Path, folder: bool, members: int = 0) -> list[JobLock]:
    """The locks of a training run writing ``out`` (``OUT.lock``; an ensemble's: ``DIR/ensemble.lock`` and each of
    its ``members`` member files' ``DIR/member<k>.pt.lock``), taken before any work, as `detect run` takes its
    output's: a second run on the same ``--out`` — the same command started twice — is refused instead of both
    writing the same model, state and log files (trial 32: both ended with status 0, the log held every epoch twice,
    the model was whichever wrote last); so is `detect train classifier --out DIR/member0.pt` while an ensemble
    trains into DIR, and an ensemble whose member file a classifier run is writing (trial 34: that run went on with
    --resume beside the ensemble's member, both writing its files). Under ``torchrun`` rank 0 alone (the one that
    writes) takes them; none on the other ranks."""
    if int(os.environ.get("RANK", "0") or 0) != 0:
        return []
    targets = ([(out / "ensemble", out)] + [(out / f"member{k}.pt",) * 2 for k in range(members)] if folder
               else [(out, out)])
    locks: list[JobLock] = []
    try:
        for of, named in targets:
            lock = JobLock(of)
            try:
                lock.path.parent.mkdir(parents=True, exist_ok=True)
                take_lock(lock, "training run", named)
            except OSError as e:
                if e.errno == errno.ELOOP:  # a symbolic link where the lock goes: never written through (JobLock)
                    raise click.ClickException(f"cannot lock {lock.path}: {e.strerror or e}") from None
                continue  # a folder that cannot be made or written: the command's own check of --out names it
            locks.append(lock)
    except BaseException:
        for lock in reversed(locks):
            lock.release()
        raise
    return locks


def stops_resumably(folder: bool = False):
    """Decorate a training command (its ``out`` argument: the model file, or with ``folder`` the ensemble's folder)
    so that SIGTERM or Ctrl-C stop it with what to do next — each finished epoch's state is kept
    (``<stem>.state.ckpt`` beside the model file, each member's in the folder): the same command with ``--resume``
    goes on from it — and exit status 143 or 130, not a traceback. Said once under torchrun (rank 0)."""
    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            out = Path(kwargs["out"])
            where = out / "member<k>.state.ckpt" if folder else state_path(out)

            def kept() -> bool:
                return any(out.glob("member*.state.ckpt")) if folder else state_path(out).is_file()

            resume = kwargs.get("resume")
            check_training_out(out, kwargs, folder)
            made = _missing_folders(out if folder else out.parent)  # the lock makes them: removed if left empty
            locks = _training_lock(out, folder, kwargs.get("members") or 0)  # before the state is read: it may be
            try:  # another run's, still training
                if not resume:
                    for model in (sorted(out.glob("member*.pt")) if folder and out.is_dir() else [] if folder else
                                  [out]):
                        if (stopped := stopped_run(model)) is not None:
                            raise click.ClickException(
                                f"{state_path(model)} holds a stopped run ({stopped[0]} of its "
                                f"{count(stopped[1], 'epoch')} done): add --resume to go on with it, or delete it to "
                                "start over")
                if resume and not kept() and distributed.is_main():
                    click.echo(f"--resume: no {where} (no epoch of a run writing {out} has finished): starting from "
                               "the first epoch", err=True)
                try:
                    with sigterm_stops():
                        return f(*args, **kwargs)
                except (KeyboardInterrupt, Terminated) as e:
                    term = isinstance(e, Terminated)
                    stopped = f"\nstopped{' (SIGTERM)' if term else ''}"
                    if distributed.is_main():
                        click.echo(f"{stopped}: each finished epoch is kept ({where}); to go on, run the same command "
                                   "again with --resume" if kept() else
                                   f"{stopped} before its first epoch ended: nothing is kept", err=True)
                    raise SystemExit(128 + (signal.SIGTERM if term else signal.SIGINT)) from None
            finally:
                for lock in reversed(locks):
                    lock.release()
                if locks:  # rank 0: a run that wrote nothing (bad data, stopped at once) leaves no empty --out folder
                    for made_here in made:
                        with contextlib.suppress(OSError):  # not empty: something was written
                            made_here.rmdir()
        return wrapper
    return decorate


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its ancestors that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and not folder.is_symlink() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    return missing


def none_used_error(failed: int, out: Path, out_format: str, *, named: str | None = "named above"
                    ) -> click.ClickException:
    """The exit-status-1 error of a run (or a merge of its shards) none of whose inputs could be used: ``failed``
    inputs, each with its reason under ``errors`` in boxes.json. A COCO results list and ILSVRC text have no place
    for them (trial 39: the message said they were in such a file): they are ``named`` elsewhere (above; in the
    parts; ``None``: nowhere else, as for a finished output found by ``--resume``) and kept in the job record beside
    the output."""
    each = "each " if failed > 1 else ""
    if out_format == "json":
        where = f"{each}listed under 'errors' in {out} with its reason"
    else:
        kind = "a COCO results list" if out_format == "coco" else "ILSVRC submission text"
        record = job_record_path(out)
        where = (f"{each}{named} with its reason ({out} is {kind}, which has no place for errors: they are under "
                 f"'errors' in its job record {record})" if named else
                 f"{each}listed under 'errors' with its reason in the job record {record} ({out} is {kind}, which "
                 "has no place for errors)")
    return click.ClickException(f"no input could be used: {count(failed, 'input')} failed, {where} (exit status 1)")


def note_duplicates(source, duplicates: list[tuple[str, str]]) -> None:
    """The note on the files of the input folder ``source`` reached twice through a link to a folder (one folder
    entry: :func:`detector.data.images._entry_key`; two links to one file are two images), each run once under the
    name kept — reached without such a link, else the first by name (``duplicates``: ``(name left out, name
    kept)``, :func:`detector.data.images.scan_images`)."""
    if duplicates:
        n = len(duplicates)
        shown = ", ".join(f"{dup} (= {kept})" for dup, kept in duplicates[:3]) + (" …" if n > 3 else "")
        click.echo(f"note: {source}: {count(n, 'image')} reached a second time through a link to a folder "
                   f"{'is' if n == 1 else 'are'} left out, each image being run once, under the name after '=' (the "
                   f"one reached without a link to a folder, else the first by name): {shown}", err=True)


def classes_not_in_gt(gt: CocoGtIds, lacking, where: str) -> str:
    """The message for ``--classes`` naming classes (``lacking``: :meth:`CocoGtIds.lacking`) that the ``--coco-gt``
    file ``gt`` has no category of: COCO results numbered for it could carry none of their detections. ``where``:
    how the classes were asked for (``--classes``, or the parts' ``--classes`` in a merge)."""
    one = len(lacking) == 1
    has = sorted(set(gt.category_names.values()), key=str.lower)
    its = f"its categories: {', '.join(has[:8])}{', …' if len(has) > 8 else ''}" if has else "it has no categories"
    return (f"{where} {', '.join(c.name for c in lacking)}: the --coco-gt file {gt.source} has no category of "
            f"{'this class' if one else 'these classes'} ({its}), so the COCO results, which take its category ids, "
            f"could carry none of {'its' if one else 'their'} detections: drop {'it' if one else 'them'} from "
            "--classes, or give the ground truth of " + ("that class" if one else "those classes"))
