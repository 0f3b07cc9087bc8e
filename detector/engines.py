"""The engines of ``detect run``: ``local`` (selective search in worker processes feeding the classifier in this one —
a producer/consumer pipeline) and ``ray`` (the same pipeline in Ray actors, on this machine or a cluster), and the
job they run: :class:`RunConfig` → :class:`DetectionJob`, which turns ``(index, path, name)`` tasks into part-file
records (:mod:`detector.data.boxes_json`). The caller writes the records as they come, so the output depends neither
on the engine nor on the order of completion.

This is the one library module that builds a proposer from its name (:func:`proposals.proposers.build_proposer`):
the :class:`~detector.pipeline.Detector` itself only wires the parts it is given.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from proposals.cache import ProposalCache
from proposals.proposers import PROPOSERS, ProposalConfig, build_proposer, proposal_config, propose_many

from .classifier import Member, load_ensemble, member_files
from .data import boxes_json
from .data.boxes import xywh_to_xyxy
from .data.images import ImageError, load_image
from .data.io import file_sha256, model_files_in
from .draw import write_drawing
from .nn.device import resolve_device
from .nn.onnx import onnx_available
from .pipeline import BATCH_SIZE, Detector, PostprocessConfig, detect_each

__all__ = ["DrawConfig", "RunConfig", "RayConfig", "DetectionJob", "ENGINES", "PRESETS", "split_cores", "run_ray",
           "ray_available", "cpu_count", "job_entry", "shown_setting", "setting_unused", "model_entry", "drawn",
           "redraw", "BUNDLED_MODELS", "bundled_model_files", "default_options", "apply_preset", "config_from_options"]

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")

# detect run --preset: option values (detect run's option names) each preset sets unless given explicitly; chosen by
# measurement (README, "Presets"; benchmarks/bench_presets.py)
PRESETS: dict[str, dict] = {
    "paper": {},  # the defaults: the paper's path
    # the cheapest proposals that keep most of the paper path's recall — MultiBox's top 100 boxes merged with
    # single-strategy selective search on the image at width 250 (a tenth of the paper path's search time, and its
    # worker shares the classifier's cores) — and without --model the bundled model of its own (detector/models/fast:
    # one crops-mode member fine-tuned with hard negatives). With --model: of an ensemble with crops-mode members,
    # those alone (all four of the default ensemble cost 2.4 times as much per image as its member0, for less), else
    # every member in its own mode — never converted, as --mode would (a member is poor in the mode it was not trained
    # for). Then one step of iterative localization (--refine 1: the kept boxes regressed once more). NMS as the
    # default (Soft-NMS). Chosen by measurement: README, "Presets"
    "fast": {"method": "both", "ss_mode": "single", "ss_resize_width": 250, "multibox_top": 100, "refine": 1,
             "prefer_mode": "crops", "bundled_model": "fast"},
}

Task = tuple[int, Path, str]  # (position in the whole input list, image file, its file_name in outputs)

BUNDLED_MODELS = Path(__file__).resolve().parent / "models"  # detector/models/<name>: default, fast


def bundled_model_files(name: str = "default") -> list[Path]:
    """The member files of the bundled model ``name`` (a folder of ``detector/models``: ``default``, the paper's
    ensemble; ``fast``, the fast preset's), read as a model folder is read (:func:`detector.classifier.member_files`:
    every ``*.pt``, or the members its ``ensemble.json`` lists; a MultiBox file left out). Raises
    ``FileNotFoundError`` when it is not installed, :class:`~detector.classifier.CheckpointError` when its folder
    cannot be read as a model."""
    folder = BUNDLED_MODELS / name
    if not (folder.is_dir() and model_files_in(folder)):
        raise FileNotFoundError(f"the bundled {name} model is not installed (looked in {folder})")
    return member_files([folder])


def default_options() -> dict:
    """``detect run``'s options that decide the pipeline, by their keyword names (``method`` for ``--proposals``,
    ``multibox_path`` for ``--multibox``), at their defaults — those of :class:`RunConfig`, :class:`ProposalConfig`
    and :class:`PostprocessConfig`, which the command's options show. With :func:`apply_preset` and
    :func:`config_from_options` they give the command's :class:`RunConfig`, and :func:`detector.api.load_detector`
    its detector."""
    ss, post = ProposalConfig.selective_search, PostprocessConfig
    return {"method": ProposalConfig.method, "multibox_path": None, "ss_mode": ss.mode, "ss_scale": ss.scale,
            "ss_resize_width": ss.resize_width, "max_proposals": ProposalConfig.merge.max_proposals,
            "multibox_top": ProposalConfig.merge.multibox_top, "mode": RunConfig.mode,
            "fast_short_side": RunConfig.fast_short_side, "fast_max_side": RunConfig.fast_max_side,
            "score_threshold": post.score_threshold, "nms": post.nms, "nms_iou": post.nms_iou,
            "soft_nms_sigma": post.soft_nms_sigma, "max_detections": post.max_detections, "refine": post.refine,
            "classes": post.classes, "device": RunConfig.device, "amp": RunConfig.amp, "backend": RunConfig.backend,
            "batch_size": RunConfig.batch_size, "image_batch": RunConfig.image_batch,
            "decode_threads": RunConfig.decode_threads, "threads": RunConfig.threads, "cache_dir": None,
            "no_cache": False, "draw_dir": None, "draw_threshold": DrawConfig.threshold}


def apply_preset(o: dict, preset: str, explicit: set[str]) -> dict:
    """Options ``o`` with the values of ``preset`` (:data:`PRESETS`) for every option not given explicitly
    (``explicit``: the names of those given). ``bundled_model`` (no option: the bundled model folder used when no
    model is given) is the preset's only while ``mode`` is unset or the preset's ``prefer_mode``. Raises
    ``ValueError`` for an unknown preset."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: expected one of {', '.join(PRESETS)}")
    out = {**o, **{k: v for k, v in PRESETS[preset].items() if k not in explicit}}
    if out.get("bundled_model") and out.get("mode") not in (None, out.get("prefer_mode")):
        # the preset's bundled model has members of its preferred mode alone: another mode runs the default
        # ensemble's members trained in it (--preset fast --mode fast: the three fast-mode members)
        del out["bundled_model"]
    return out


def unused_options(given: set[str], o: dict, spell) -> list[str]:
    """What is wrong with each option given (``given``: option names, :func:`default_options`' keys) that the run of
    options ``o`` (the preset applied) would leave unused — ``detect run`` refuses each as a usage error and
    :func:`detector.api.load_detector` as a ``ValueError``, rather than ignore it: ``nms_iou`` under Soft-NMS
    (``--nms-iou 1`` once turned NMS off), ``soft_nms_sigma`` under greedy NMS, ``multibox_path`` or ``multibox_top``
    with proposals that use no MultiBox, selective search's ``ss_mode``, ``ss_scale`` or ``ss_resize_width`` with
    MultiBox proposals alone (:func:`unused_proposal_options`). ``spell(key, value=None)``: how the caller writes an
    option (``--nms-iou``, ``--nms greedy``; ``nms_iou``, ``nms='greedy'``). Returns the messages, in that order."""
    problems = []
    for key, nms in (("nms_iou", "greedy"), ("soft_nms_sigma", "soft")):
        if key in given and o["nms"] != nms:
            problems.append(f"{spell(key)} is a setting of {spell('nms', nms)}, and this run's NMS is "
                            f"{spell('nms', o['nms'])}{'' if 'nms' in given else ' (the default)'}: add "
                            f"{spell('nms', nms)}, or drop {spell(key)}")
    return problems + unused_proposal_options(given, [o["method"]], spell)


def unused_proposal_options(given: set[str], methods, spell, verb: str = "choose") -> list[str]:
    """The proposal options of ``given`` that none of the proposers ``methods`` (names of
    :data:`proposals.proposers.PROPOSERS`) uses — ``multibox_path`` or ``multibox_top`` where none uses MultiBox,
    selective search's ``ss_mode``, ``ss_scale`` or ``ss_resize_width`` where none searches (trial 61: ignored without
    a word) — in words, for :func:`unused_options` and ``detect proposals`` (whose ``--method`` may be given several
    times: ``verb`` "add"). ``spell`` as for :func:`unused_options`."""
    problems, here = [], spell("method", " ".join(methods))
    multibox = [k for k in ("multibox_path", "multibox_top") if k in given]
    if multibox and not any(PROPOSERS[m].uses_multibox for m in methods):
        problems.append(f"{spell(multibox[0])} is used only with {spell('method', 'multibox')} or both (here "
                        f"{here}): drop it, or {verb} one of those")
    search = [k for k in ("ss_mode", "ss_scale", "ss_resize_width") if k in given]
    if search and all(m == "multibox" for m in methods):  # no selective search runs (job_settings leaves them out)
        one = len(search) == 1
        problems.append(f"{', '.join(map(spell, search))} {'is a setting' if one else 'are settings'} of selective "
                        f"search, which {here} does not run: drop {'it' if one else 'them'}, or {verb} "
                        f"{spell('method', 'ss')} or both")
    return problems


def config_from_options(o: dict, model_files) -> "RunConfig":
    """The :class:`RunConfig` of options ``o`` (:func:`default_options`' keys; ``detect run``'s keyword arguments)
    for the member files ``model_files``. Raises ``ValueError`` for a value a config refuses."""
    proposals = proposal_config(o)
    post = PostprocessConfig(nms=o["nms"], nms_iou=o["nms_iou"], soft_nms_sigma=o["soft_nms_sigma"],
                             score_threshold=o["score_threshold"], max_detections=o["max_detections"],
                             refine=o["refine"], classes=tuple(o["classes"]) if o["classes"] is not None else None)
    draw = DrawConfig(str(o["draw_dir"]), o["draw_threshold"]) if o["draw_dir"] else None
    return RunConfig(models=tuple(str(p) for p in model_files), proposals=proposals, postprocess=post,
                     batch_size=o["batch_size"], device=o["device"], amp=o["amp"], backend=o["backend"],
                     threads=o["threads"], cache_dir=str(o["cache_dir"]) if o["cache_dir"] else None,
                     use_cache=not o["no_cache"], draw=draw, mode=o["mode"], fast_short_side=o["fast_short_side"],
                     fast_max_side=o["fast_max_side"], image_batch=o["image_batch"],
                     decode_threads=o["decode_threads"])


@dataclass(frozen=True)
class DrawConfig:
    """``detect run --draw``: pictures of the detections."""

    folder: str  # pictures go to folder / <file_name>
    threshold: float = 0.3  # detections scoring at least this are drawn (all above score_threshold are written)


@dataclass(frozen=True)
class RunConfig:
    """Everything a process needs to rebuild the pipeline of ``detect run`` (plain data: it travels to Ray actors).
    Each default is the command's."""

    models: tuple[str, ...]  # the member files of the ensemble
    proposals: ProposalConfig = ProposalConfig()
    postprocess: PostprocessConfig = PostprocessConfig()
    batch_size: int = BATCH_SIZE  # regions per CNN batch
    device: str = "auto"  # auto (CUDA when there is one), cpu, cuda, cuda:N
    amp: bool = True  # bfloat16 autocast of the networks on CUDA (never on the CPU)
    backend: str = "auto"  # crops-mode members on the CPU: onnx (ONNX Runtime), torch; auto: onnx when installed
    threads: int = 0  # torch threads in each process (0: torch's default; the local engine sets the cores left)
    cache_dir: str | None = None  # proposal cache (None: $DETECT_CACHE_DIR or ~/.cache/detect/proposals)
    use_cache: bool = True
    draw: DrawConfig | None = None
    mode: str | None = None  # crops | fast; None: the members' own (Member.with_mode)
    fast_short_side: int | None = None  # fast mode's image scale; None: the members' own
    fast_max_side: int | None = None
    image_batch: int = 1  # images scored together (fast mode: one trunk pass for all; for CUDA), in order
    decode_threads: int = 0  # threads decoding images ahead when no selective search does it in worker processes

    def result_settings(self) -> dict:
        """The settings that decide the detections (with the model files: the job's identity for --resume and
        merge). Settings at their defaults that older versions did not have are left out, so that a job's identity
        does not change with the version that runs it."""
        p, post = self.proposals, self.postprocess
        out = {"proposals": p.method, "ss_mode": p.selective_search.mode, "ss_scale": p.selective_search.scale,
               "max_proposals": p.max_proposals, "nms_iou": post.nms_iou, "score_threshold": post.score_threshold,
               "max_detections": post.max_detections, "backend": self.backend}
        if p.selective_search.resize_width != ProposalConfig.selective_search.resize_width:
            out["ss_resize_width"] = p.selective_search.resize_width
        if p.merge.multibox_top != ProposalConfig.merge.multibox_top:
            out["multibox_top"] = p.merge.multibox_top
        if post.refine:  # absent (0) in the settings of versions without it
            out["refine"] = post.refine
        if post.classes is not None:  # absent (every class) in the settings of versions without --classes
            out["classes"] = list(post.classes)
        if post.nms != "greedy":  # absent (greedy, the only NMS of versions without it) ...
            out["nms"] = post.nms
            out["soft_nms_sigma"] = post.soft_nms_sigma
            del out["nms_iou"]  # ... whose IoU Soft-NMS does not use
        for k in ("mode", "fast_short_side", "fast_max_side"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return out

    def members(self, members: Sequence[Member]) -> list[Member]:
        """``members`` in this run's mode and fast-mode scale (:meth:`Member.with_mode`)."""
        return [m.with_mode(self.mode, fast_short_side=self.fast_short_side, fast_max_side=self.fast_max_side)
                for m in members]


@dataclass(frozen=True)
class RayConfig:
    """``detect run --engine ray``."""

    address: str | None = None  # a cluster to join (ray://head:10001, auto); None: start Ray on this machine
    actors: int | None = None  # None: as many as the cluster's CPUs (GPUs) fit
    cpus_per_actor: float = 1.0  # also the actor's torch threads
    gpus_per_actor: float = 0.0
    chunk: int = 8  # images per Ray call (results reach the part file a chunk at a time)


def job_settings(config: RunConfig, members: Sequence[Member]) -> dict:
    """:meth:`RunConfig.result_settings` less those this run does not use or that change nothing — selective
    search's with MultiBox proposals alone, MultiBox's ``multibox_top`` with selective search alone, fast mode's
    scale when every member (``members``: in the run's mode) runs in crops mode, ``refine`` when no member regresses
    boxes, a ``--mode`` or fast-mode scale equal to every member file's own — so that an ignored or redundant option
    does not change the job's identity (and stop a ``--resume`` or a ``detect merge``). A ``--backend`` equal to what
    ``auto`` picks here (``onnx`` where ONNX Runtime is installed) is recorded as ``auto``."""
    settings = config.result_settings()
    if settings["backend"] == ("onnx" if onnx_available() else "torch"):
        settings["backend"] = "auto"
    unused = []
    if config.proposals.method == "multibox":
        unused += ["ss_mode", "ss_scale", "ss_resize_width"]
    if config.proposals.method == "ss":
        unused += ["multibox_top"]
    if all(m.spec.mode == "crops" for m in members):
        unused += ["fast_short_side", "fast_max_side"]
    if not any(m.spec.bbox_reg for m in members):
        unused += ["refine"]
    unused += [k for k in ("mode", "fast_short_side", "fast_max_side")
               if all(getattr(m.spec, k) == getattr(m.own_spec, k) for m in members)]
    for k in unused:
        settings.pop(k, None)
    return settings


def setting_unused(settings: dict, key: str) -> bool:
    """Whether a job of ``settings`` (:func:`job_settings`) ignores setting ``key``: selective search's (``ss_*``)
    under MultiBox proposals alone, ``multibox_top`` under selective search alone — so that a difference in it is
    not one between two runs (:func:`detector.data.boxes_json.differences`)."""
    method = settings.get("proposals")
    return (key.startswith("ss_") and method == "multibox") or (key == "multibox_top" and method == "ss")


def shown_setting(settings: dict, key: str) -> str:
    """Setting ``key`` of a job's ``settings`` (:func:`job_settings`) as a message names it when it stops a
    ``--resume`` or a merge (:func:`detector.data.boxes_json.differences`, after its option:
    :func:`detector.nn.options.option_flag`): its value as the option takes it (``soft``, ``dog,person``), or for one
    left out, what that means — ``200 (the default)`` (left out at its default: :meth:`RunConfig.result_settings`),
    ``0 (off)`` (``refine``), ``not used (--proposals ss)`` (:func:`job_settings`), ``the members' own`` (``--mode``
    and fast mode's scale), ``none (every class)`` (``classes``), ``not recorded`` (anything else: an older
    version's job)."""
    if settings.get(key) is not None:
        value = settings[key]
        if isinstance(value, list):  # --classes: names separated by commas
            return ",".join(map(str, value))
        return value if isinstance(value, str) else json.dumps(value)
    if setting_unused(settings, key):
        return f"not used (--proposals {settings.get('proposals')})"
    if key == "refine":  # left out at 0 or unused (no member regresses): no refinement either way; "the default"
        return "0 (off)"  # misled under --preset fast, whose value is 1 (trial 17)
    if key == "nms":  # left out: greedy (versions before Soft-NMS had no other)
        return "greedy"
    if key == "nms_iou" and settings.get("nms") not in (None, "greedy"):
        return f"not used (--nms {settings['nms']})"
    if key == "soft_nms_sigma":
        return "not used (--nms greedy)"
    defaults = {"ss_resize_width": ProposalConfig.selective_search.resize_width,
                "multibox_top": ProposalConfig.merge.multibox_top}
    if key in defaults:
        return f"{defaults[key]} (the default)"
    if key in ("mode", "fast_short_side", "fast_max_side"):
        return "the members' own"
    if key == "classes":  # left out: every class (trial 57: read "not recorded", as if an older version's job)
        return "none (every class)"
    return "not recorded"


def job_entry(config: RunConfig, members: Sequence[Member], names: Sequence[str], shard=None) -> dict:
    """The ``job`` of a run's output: the number of inputs, a digest of their names, a digest of the model files
    and the settings that decide the detections (:func:`job_settings`), and the shard."""
    mb = config.proposals.multibox_path
    job = {"inputs": len(names), "inputs_sha256": boxes_json.digest(list(names)),
           "config_sha256": boxes_json.digest({"models": [file_sha256(m.path) for m in members],
                                               "multibox": file_sha256(mb) if mb else None,
                                               **job_settings(config, members)})}
    if shard is not None:
        job["shard"] = shard.to_dict()
    return job


def model_entry(config: RunConfig, members: Sequence[Member], device: str) -> dict:
    """The ``model`` of a run's output: the ensemble, its files (and their SHA-256, so that a refused resume names a
    member file changed in place, and not one named otherwise) and mode, and the proposals it scored — with the
    MultiBox network's file and its SHA-256 when they come from one."""
    first, p = members[0], config.proposals
    paths = [m.path for m in members if m.path is not None]
    if len(members) > 1 and paths and len({p.parent for p in paths}) == 1:
        name = paths[0].parent.name  # an ensemble's folder
    elif len(members) == 1 and first.path is not None:
        name = first.path.stem
    else:
        name = first.train.get("name") or ""
    entry = {"name": name,
             "classes": len(first.classes), "members": len(members), "files": [str(m.path) for m in members],
             "files_sha256": [file_sha256(m.path) for m in members],
             "proposals": p.method, "max_proposals": p.max_proposals, "device": device}
    modes = [m.spec.mode for m in members]
    entry["mode"] = modes[0] if len(set(modes)) == 1 else "mixed"
    if entry["mode"] == "mixed":  # each member's, in order
        entry["modes"] = modes
    if p.method != "multibox":  # selective search's settings, where it runs
        entry["selective_search"] = {"mode": p.selective_search.mode, "scale": p.selective_search.scale,
                                     "resize_width": p.selective_search.resize_width}
    if p.multibox_path is not None:
        entry["multibox"] = {"file": str(p.multibox_path), "sha256": file_sha256(p.multibox_path)}
    return entry


class DetectionJob:
    """One process's pipeline, built once: the proposer of ``config.proposals``, the ensemble (``members``, or
    loaded here onto the configured device) and the :class:`Detector`; then :meth:`records` turns tasks into
    records. ``ss_workers``: selective-search processes (None: one per CPU; 0: in this process — but next to ONNX
    Runtime, whose threads share the C ``rand()`` that orders OpenCV's boxes, one worker process is used)."""

    def __init__(self, config: RunConfig, *, members: Sequence[Member] | None = None, ss_workers: int | None = 0):
        if config.threads:
            torch.set_num_threads(config.threads)
        device = resolve_device(config.device)
        members = config.members(members if members is not None else load_ensemble(config.models, device=device))
        self.config = config
        self.classes = members[0].classes
        self.names = {k + 1: cat.name for k, cat in enumerate(self.classes)}
        self.cache = ProposalCache(config.cache_dir) if config.use_cache else None
        proposer = build_proposer(config.proposals, device)
        self.detector = Detector(proposer, members, config.postprocess, batch_size=config.batch_size,
                                 max_proposals=config.proposals.max_proposals, device=device, amp=config.amp,
                                 backend=config.backend)
        self.ss_workers = ss_workers
        if self.detector.uses_onnx and not ss_workers and proposer.search is not None:
            self.ss_workers = 1

    def records(self, tasks: Sequence[Task]) -> Iterator[tuple[dict, dict]]:
        """Tasks ``(index, path, name)`` → ``(record, timings)`` in task order; proposals for later images are
        computed (in ``ss_workers`` processes) while this process classifies earlier ones. Closing the generator
        stops those processes."""
        proposed = propose_many(self.detector.proposer, [t[1] for t in tasks], workers=self.ss_workers,
                                cache=self.cache, decode_threads=self.config.decode_threads)
        detected = detect_each(self.detector, proposed, images_per_batch=self.config.image_batch)
        try:
            for (index, _, name), (item, det, error) in zip(tasks, detected):
                yield self.record(index, name, item, det, error)
        finally:
            detected.close()
            proposed.close()

    def record(self, index: int, name: str, item, det, error: str | None) -> tuple[dict, dict]:
        """One image's record from its :func:`detect_each` result: its entry and detections (and its picture
        written under ``config.draw``: a picture that cannot be written is the record's ``drawing_error``, the
        detections are kept), or, when anything else failed on the way, an ``error`` record saying what."""
        timings = {"proposals": item.seconds}
        if det is None:
            return boxes_json.error_record(index, name, _short_error(error, item.path) if item.error else error), \
                timings
        try:
            h, w = item.image.shape[:2]
            rec = boxes_json.image_record(index, name, w, h, det.boxes, det.scores, det.labels, self.classes)
        except Exception as e:  # noqa: BLE001 - record it, log the trace, go on
            logger.warning("output failed on %s: %s: %s", item.path, type(e).__name__, e,
                           exc_info=logger.isEnabledFor(logging.DEBUG))  # the trace with -vv
            return boxes_json.error_record(index, name, f"output failed: {type(e).__name__}: {e}"), timings
        if self.config.draw is not None:
            # drawn from the detections as recorded (rounded), as --resume redraws them: the same picture either way
            boxes, scores = _recorded(rec)
            rec = drawn(rec, self.config.draw, item.image, boxes, scores, det.labels, self.names)
        return rec, {**det.timings, "regions": det.num_proposals}


def drawn(record: dict, draw: DrawConfig, image: np.ndarray, boxes, scores, labels, names) -> dict:
    """``record`` (an image's part-file record) once its picture is written under ``draw``
    (:func:`detector.draw.write_drawing`): without a ``drawing_error`` and with the ``draw_threshold`` it was drawn
    at (a ``--resume`` with another ``--draw-threshold`` draws it again), or, when the picture cannot be drawn or
    written, with a ``drawing_error`` saying why — the detections are kept either way (a picture is a by-product of
    the job).
    ``boxes`` xyxy [D, 4], ``scores`` [D], ``labels`` [D] in 1..C, ``names[label]`` the text of a label."""
    name = record["image"]["file_name"]
    try:
        write_drawing(draw.folder, name, image, boxes, scores, labels, names, draw.threshold)
    except Exception as e:  # one picture never ends a job
        logger.debug("drawing %s failed", name, exc_info=True)
        why = f"{e.filename}: {e.strerror}" if isinstance(e, OSError) and e.filename and e.strerror else \
            f"{type(e).__name__}: {e}"
        return {**{k: v for k, v in record.items() if k != "draw_threshold"},
                "drawing_error": f"drawing failed: {why}"}
    return {**{k: v for k, v in record.items() if k != "drawing_error"}, "draw_threshold": draw.threshold}


def redraw(record: dict, path, draw: DrawConfig, categories: Sequence[dict]) -> dict:
    """:func:`drawn` for a record read back from a part file (``detect run --resume``): the image read again from
    ``path``, its detections taken from the record (``categories``: the part file's, whose order gives the
    labels)."""
    labels_of = {c["id"]: k + 1 for k, c in enumerate(categories)}
    names = {k + 1: c["name"] for k, c in enumerate(categories)}
    dets = record["detections"]
    try:
        image = load_image(path)
    except ImageError as e:
        return {**{k: v for k, v in record.items() if k != "draw_threshold"}, "drawing_error": f"drawing failed: {e}"}
    boxes, scores = _recorded(record)
    labels = np.asarray([labels_of[d["category_id"]] for d in dets], dtype=np.int64)
    return drawn(record, draw, image, boxes, scores, labels, names)


def _recorded(record: dict) -> tuple[np.ndarray, np.ndarray]:
    """The xyxy boxes [D, 4] and scores [D] of a part-file record's detections, as written (rounded): what both
    the run and a ``--resume`` that redraws the image draw, so that the two pictures are the same (user trial 27: a
    redrawn picture had a box edge a pixel off, and a score rounded up to the threshold could be drawn in one only)."""
    dets = record["detections"]
    boxes = xywh_to_xyxy(np.asarray([d["bbox"] for d in dets], dtype=np.float64).reshape(-1, 4))
    return boxes, np.asarray([d["score"] for d in dets], dtype=np.float64)


def _short_error(message: str, path: Path) -> str:
    """Drop the file name and exception class from a proposal error (boxes.json names the file itself)."""
    message = message.replace(f"{path}: ", "")
    if ": " in message and message.split(": ", 1)[0].isidentifier():
        head, rest = message.split(": ", 1)
        if head.endswith("Error") or head.endswith("Exception"):
            message = rest
    return message


# ---------------------------------------------------------------------------------------------------- engines
def split_cores(method: str, workers: int | None, threads: int, ss_mode: str | None = None) -> tuple[int, int]:
    """The local engine's processes: ``workers`` selective-search processes (None: half the cores, none for
    MultiBox alone) and ``threads`` classifier threads (0: the cores the workers leave, at least 1 — or every core
    when ``ss_mode`` is ``single``). Selective search at its R-CNN settings and the CNN cost about the same per image
    here, so the cores are split between them (README, "Batch jobs"); single-strategy selective search takes about a
    fifth of the CNN's time, so its worker shares the classifier's cores (README, "Presets")."""
    cores = cpu_count()
    if workers is None:
        workers = max(1, cores // 2) if method != "multibox" else 0
    if threads:
        return workers, threads
    return workers, cores if ss_mode == "single" and method != "multibox" else max(1, cores - workers)


class _RayWorker:
    """One Ray actor: a whole pipeline."""

    def __init__(self, config: RunConfig):
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        # Selective search runs in a child process: OpenCV ranks its boxes with the C library's rand(), whose state
        # is process-wide, and Ray's own threads in this process draw from it too — in here the order (and so
        # which boxes a cap keeps) would change from run to run.
        self.job = DetectionJob(config, ss_workers=1)

    def process(self, tasks):
        """A chunk of tasks → their (record, timings), in order; the chunk's selective search runs ahead in the
        child process while this one classifies."""
        return list(self.job.records([(index, Path(path), name) for index, path, name in tasks]))


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def run_ray(config: RunConfig, tasks: Sequence[Task], ray_config: RayConfig = RayConfig()
            ) -> Iterator[tuple[dict, dict]]:
    """Run the tasks on Ray actors (an ``ActorPool``), ``ray_config.chunk`` images per call, results as chunks
    finish. ``ray_config.address`` None starts a local Ray instance; else it joins that cluster (``auto`` = the one
    this node belongs to). Image, model and cache paths must be readable on every node (shared storage)."""
    import ray
    from ray.util import ActorPool

    rc = ray_config
    started = not ray.is_initialized()
    if started:
        kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        on_sigterm = signal.getsignal(signal.SIGTERM)
        if rc.address:
            ray.init(address=rc.address, **kwargs)
        else:
            ray.init(num_cpus=cpu_count(), **kwargs)
        if on_sigterm is not None and threading.current_thread() is threading.main_thread():
            # ray.init puts its own SIGTERM handler (sys.exit(15)) and its core worker's (a stack dump, then
            # abort) in place of the command's: a SIGTERM then ended `detect run --engine ray` with status 134 and
            # no "(SIGTERM)" (trial 44). The command's own handler is put back: status 143, as the local engine.
            signal.signal(signal.SIGTERM, on_sigterm)
    try:
        total = ray.cluster_resources().get("GPU" if rc.gpus_per_actor else "CPU", 1)
        per = rc.gpus_per_actor if rc.gpus_per_actor else rc.cpus_per_actor
        fit = max(1, int(total // per))
        actors = rc.actors
        if actors is None:
            actors = fit
        elif actors > fit:  # an actor that can never be placed would take tasks and hang the pool
            logger.warning("ray: %d actors asked for, but the cluster's %g %s fit only %d", actors, total,
                           "GPUs" if rc.gpus_per_actor else "CPUs", fit)
            actors = fit
        chunks = [[(i, str(p), n) for i, p, n in tasks[s : s + rc.chunk]] for s in range(0, len(tasks), rc.chunk)]
        actors = max(1, min(actors, len(chunks) or 1))
        cls = ray.remote(num_cpus=rc.cpus_per_actor, num_gpus=rc.gpus_per_actor)(_RayWorker)
        worker_config = replace(config, threads=config.threads or max(1, int(rc.cpus_per_actor)))
        pool = ActorPool([cls.remote(worker_config) for _ in range(actors)])
        logger.info("ray: %d actor%s × %g CPU", actors, "" if actors == 1 else "s", rc.cpus_per_actor)
        try:
            for results in pool.map_unordered(lambda a, c: a.process.remote(c), chunks):
                yield from results
        except Exception as e:
            # a signal handler's exception (the command's SIGTERM → Terminated, Ctrl-C → KeyboardInterrupt) raised
            # while Ray's core worker waits comes out as SystemError "returned a result with an exception set",
            # the handler's as its cause: raised as itself, so the command stops as it does on a signal
            cause = e.__cause__ or e.__context__
            if cause is not None and not isinstance(cause, Exception):
                raise cause from None
            raise
    finally:
        if started:
            ray.shutdown()


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
