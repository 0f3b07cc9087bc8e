"""``detect train``: region classifiers (one member or an ensemble), MultiBox networks and their priors.

Each command maps its options to the library's config dataclasses (``*_from_options``), runs the library's training
(:func:`detector.train.train_classifier`, :func:`proposals.multibox_train.train_multibox`, both on the one loop
:func:`detector.nn.loop.fit`) and prints. Every command here also runs under ``torchrun`` (data-parallel,
:mod:`detector.nn.distributed`): the ranks share the selective search, training and validation; rank 0 alone prints
and writes files.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import click
import numpy as np
import torch
from tqdm import tqdm

from detector.classifier import (ARCHS, CHECKPOINT_FORMAT, MODES, CheckpointError, ClassifierSpec, check_init_spec,
                                 class_map_of, load_init_weights, read_init_file, read_spec)
from detector.data import Dataset
from detector.data.io import atomic_write_text, decode_text, file_sha256, not_text, read_text, same_paths
from detector.data.vocab import closest_names, ilsvrc_categories
from detector.nn import distributed
from detector.nn.checkpoint import read_checkpoint
from detector.nn.device import resolve_device
from detector.nn.loop import finished_state, last_path, state_path
from detector.nn.transforms import FAST_MIN_SIDE
from detector.nn.options import option_flag, refused_resume, setting_change
from detector.train import (
    TrainConfig,
    build_class_list,
    check_resume_spec,
    dataset_proposals,
    make_validator,
    prepare_images,
    train_classifier,
)
from eval.predictions import PredictionError, match_images, read_predictions
from proposals.cache import ProposalCache
from proposals.multibox import MultiBoxConfig
from proposals.multibox_train import MultiBoxTrainConfig
from proposals.proposers import ProposalConfig
from proposals.selective_search import MAX_SCALE as SS_MAX_SCALE
from proposals.selective_search import MIN_SCALE as SS_MIN_SCALE

from .common import (FiniteFloat, OutDir, OutFile, check_out_folder, count, device_option, files_written, format_option,
                     images_option, dataset_files, load_dataset, nothing_to_resume, refuse_replacing_inputs,
                     stops_resumably)


@click.group("train")
def train_group():
    """Train region classifiers, ensembles of them, and MultiBox proposal networks (and their priors)."""


@dataclass(frozen=True)
class ClassifierRun:
    """One ``detect train classifier`` run (or ensemble member), as its options give it."""

    out: Path
    gts: tuple[Path, ...]
    partial_gts: tuple[Path, ...]  # ground truth whose labels are not exhaustive
    vals: tuple[Path, ...]
    images: Path | None
    fmt: str
    class_set: str  # all | ilsvrc
    class_map: str  # auto | none | imagenet1k
    init: Path | None
    spec: ClassifierSpec  # its num_classes and class_map are settled once the data and --init are read
    train: TrainConfig
    proposals: ProposalConfig  # selective search of the training and validation images
    device: str
    cache_dir: Path | None
    half: bool
    resume: bool
    drop_aux: bool = False  # the model file without the auxiliary heads (training only)
    val_mode: str | None = None  # validate in this mode; None: the model's own
    hard_negatives: tuple[Path, ...] = ()  # detections of a model on the training images (hard negative mining)


def classifier_from_options(o: dict, out: Path) -> ClassifierRun:
    """The :class:`ClassifierRun` of ``detect train classifier|ensemble``'s options ``o`` (click's keyword
    arguments) writing ``out``. ``--batch-size`` regions are drawn :attr:`TrainConfig.regions_per_image` per
    image."""
    if not o["gts"]:  # checked here, not by click, to say why --gt-partial alone is not enough (trial 24)
        raise click.UsageError("Missing option '--gt'" + (
            ": regions of --gt-partial ground truth are never background, so training needs at least one --gt "
            "whose labels are exhaustive" if o["partial_gts"] else "") + ".")
    if o["bg_iou_low"] >= o["fg_iou"]:  # below --fg-iou, not below 0.5 (trial 18: capped at 0.5 with --fg-iou 0.7)
        raise click.BadParameter(f"{o['bg_iou_low']} is not below --fg-iou {o['fg_iou']}: background regions overlap "
                                 "objects by IoU in [--bg-iou-low, --fg-iou)", param_hint="'--bg-iou-low'")
    if o["arch"] == "torchvision" and o["width"] != 1.0:  # trial 30: trained at full width without a word
        raise click.BadParameter(f"{o['width']:g}: torchvision's GoogLeNet comes in one width (1); a narrower network "
                                 "is --arch paper or paper-bn", param_hint="'--width'")
    if o["fast_max_side"] < o["fast_short_side"]:  # in the options' words (ClassifierSpec's check names its fields)
        raise click.BadParameter(f"{o['fast_max_side']} is below --fast-short-side {o['fast_short_side']}: the long "
                                 "side's cap must be at least the short side", param_hint="'--fast-max-side'")
    per_image = TrainConfig.regions_per_image
    if o["batch_size"] > per_image and o["batch_size"] % per_image:  # trial 19: 20 trained as 16, without a word
        raise click.BadParameter(f"regions are drawn {per_image} per image: give a multiple of {per_image}, or at most "
                                 f"{per_image} (--batch-size {o['batch_size']} would train "
                                 f"{o['batch_size'] // per_image * per_image} per mini-batch)", param_hint="'--batch-size'")
    train = TrainConfig(epochs=o["epochs"], images_per_batch=max(1, o["batch_size"] // per_image),
                        regions_per_image=min(per_image, o["batch_size"]), lr=o["lr"],
                        lr_step_epochs=o["lr_step_epochs"], schedule=o["schedule"], seed=o["seed"],
                        fg_iou=o["fg_iou"], bg_iou_low=o["bg_iou_low"], hard_fraction=o["hard_fraction"],
                        workers=o["workers"],
                        val_every=o["val_every"], threads=o["threads"])
    spec = ClassifierSpec(arch=o["arch"], input_size=o["input_size"], width=o["width"], bbox_reg=o["bbox_reg"],
                          aux_logits=o["mode"] == "crops", mode=o["mode"], fast_short_side=o["fast_short_side"],
                          fast_max_side=o["fast_max_side"])  # fast mode has no auxiliary heads
    proposals = ProposalConfig(selective_search=replace(ProposalConfig.selective_search, scale=o["ss_scale"]))
    return ClassifierRun(out, tuple(o["gts"]), tuple(o["partial_gts"]), tuple(o["vals"]), o["images"], o["fmt"],
                         o["class_set"], o["class_map"], o["init"], spec, train, proposals, o["device"],
                         o["cache_dir"], o["half"], o["resume"], o["drop_aux"],
                         None if o["val_mode"] == "auto" else o["val_mode"], tuple(o["hard_negatives"]))


def _common_options(f):
    opts = [
        click.option("--gt", "gts", multiple=True, type=click.Path(exists=True, path_type=Path),
                     help="Training ground truth (any format `detect inspect` reads); repeat to combine datasets. "
                          "At least one is required."),
        images_option,
        format_option,
        click.option("--val", "vals", multiple=True, type=click.Path(exists=True, path_type=Path),
                     help="Validation ground truth (repeatable); its ILSVRC-metric mAP picks the best checkpoint."),
        click.option("--arch", type=click.Choice(ARCHS), default=ClassifierSpec.arch, show_default=True,
                     help="paper: Table 1; paper-bn: with BatchNorm (from scratch or a distilled --init); "
                          "torchvision: its googlenet (for --init ImageNet weights)."),
        click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="Weights to start from: a model file of ours (either --mode; same --arch and --width; "
                          "the classifier is kept only for the same classes) or torchvision googlenet ImageNet "
                          "weights (.pth, --arch torchvision)."),
        click.option("--mode", type=click.Choice(MODES), default=ClassifierSpec.mode, show_default=True,
                     help="crops: each region warped and run through the whole network (the paper, R-CNN); fast: "
                          "one pass per image to inception 4e, region features pooled from it (Fast R-CNN). "
                          "Recorded in the model; `detect run` follows it."),
        click.option("--fast-short-side", type=click.IntRange(min=FAST_MIN_SIDE),
                     default=ClassifierSpec.fast_short_side, show_default=True,
                     help="--mode fast: images resized to this short side (Fast R-CNN: 600) …"),
        click.option("--fast-max-side", type=click.IntRange(min=FAST_MIN_SIDE), default=ClassifierSpec.fast_max_side,
                     show_default=True, help="… unless the long side would pass this (Fast R-CNN: 1000)."),
        click.option("--input-size", type=click.IntRange(min=96), default=ClassifierSpec.input_size,
                     show_default=True, help="Region size in pixels (the paper: 224)."),
        click.option("--width", type=FiniteFloat(min=0.05, max=4), default=ClassifierSpec.width,
                     show_default=True, help="Channel multiplier of the paper architectures (1 = Table 1)."),
        click.option("--epochs", type=click.IntRange(min=1), default=TrainConfig.epochs, show_default=True),
        click.option("--batch-size", type=click.IntRange(min=1),
                     default=TrainConfig.images_per_batch * TrainConfig.regions_per_image, show_default=True,
                     help=f"Regions per mini-batch (R-CNN: 128), drawn {TrainConfig.regions_per_image} per image: a "
                          f"multiple of {TrainConfig.regions_per_image}, or at most that."),
        click.option("--lr", type=FiniteFloat(min=0, min_open=True), default=TrainConfig.lr, show_default=True),
        click.option("--lr-step-epochs", type=click.IntRange(min=1), default=TrainConfig.lr_step_epochs,
                     show_default=True, help="Epochs between 4 % learning-rate drops (the paper: 8)."),
        click.option("--fg-iou", type=FiniteFloat(0.5, 1.0, max_open=True), default=TrainConfig.fg_iou,
                     show_default=True,
                     help="Regions overlapping a labelled object by at least this IoU are its foreground (and learn "
                          "box regression toward it); below, background (R-CNN, Fast R-CNN: 0.5; Cascade R-CNN's "
                          "later stages: 0.6, 0.7)."),
        click.option("--bg-iou-low", type=FiniteFloat(0.0, 1.0, max_open=True), default=TrainConfig.bg_iou_low,
                     show_default=True,
                     help="Background regions overlap a labelled object by IoU in [this, --fg-iou) (Fast R-CNN: 0.1; "
                          "0 also samples regions far from every object, as R-CNN's fine-tuning did)."),
        click.option("--schedule", type=click.Choice(["step", "cosine"]), default=TrainConfig.schedule,
                     show_default=True, help="Learning-rate schedule after the warm-up: step = the paper's (−4 % every "
                                             "--lr-step-epochs); cosine = decay to 0 over the run."),
        click.option("--seed", type=int, default=TrainConfig.seed, show_default=True),
        device_option,
        click.option("--bbox-reg/--no-bbox-reg", default=ClassifierSpec.bbox_reg, show_default=True,
                     help="Also train box regression (R-CNN's refinement): class-specific, or one class-agnostic "
                          "head for the mapped outputs of --class-map imagenet1k."),
        click.option("--workers", type=click.IntRange(min=0), default=TrainConfig.workers, show_default=True,
                     help="Data-loading processes (also used for selective search)."),
        click.option("--threads", type=click.IntRange(min=0), default=TrainConfig.threads,
                     help="torch threads (0: torch's default)."),
        click.option("--val-every", type=click.IntRange(min=0), default=TrainConfig.val_every, show_default=True,
                     help="Epochs between validation runs."),
        click.option("--ss-scale", type=FiniteFloat(min=SS_MIN_SCALE, max=SS_MAX_SCALE),
                     default=ProposalConfig.selective_search.scale, show_default=True,
                     help="Selective search superpixel scale for training proposals (as `detect run`)."),
        click.option("--cache-dir", type=OutDir("proposal-cache/"), default=None,
                     help="Proposal cache folder."),
        click.option("--half", is_flag=True, help="Store --out's weights as float16 (half the file size; "
                                                  "<stem>.last.ckpt and the resume state keep float32)."),
        click.option("--drop-aux", is_flag=True,
                     help="Leave the auxiliary heads (training only) out of the model file (--out): a smaller file "
                          "for inference; it still initialises new training."),
        click.option("--val-mode", type=click.Choice(["auto", *MODES]), default="auto", show_default=True,
                     help="Validate in this mode (the same weights serve both); auto: the model's own."),
        click.option("--classes", "class_set", type=click.Choice(["all", "ilsvrc"]), default="all",
                     show_default=True,
                     help="all: every class with boxes; ilsvrc: only classes of the ILSVRC 200 (others are "
                          "neither learned nor used as background)."),
        click.option("--resume", is_flag=True, help="Continue a stopped run from its <stem>.state.ckpt."),
        click.option("--gt-partial", "partial_gts", multiple=True, type=click.Path(exists=True, path_type=Path),
                     help="Training ground truth whose labels are not exhaustive (objects without a box exist, as in "
                          "Open Images): only its labelled objects are sampled, never its background; repeatable."),
        click.option("--hard-negatives", "hard_negatives", multiple=True,
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Hard negative mining (R-CNN): detections of a model on the training images (`detect run` "
                          "output: boxes.json, or COCO results with file_name); those off every object are drawn "
                          "as background. Repeatable."),
        click.option("--hard-fraction", type=FiniteFloat(0.0, 1.0), default=TrainConfig.hard_fraction,
                     show_default=True,
                     help="Share of each image's background regions drawn from its hard negatives (at most)."),
        click.option("--class-map", type=click.Choice(["auto", "none", "imagenet1k"]), default="auto",
                     show_default=True,
                     help="imagenet1k: keep the 1,000 ImageNet outputs of a distilled --init and score the 200 ILSVRC "
                          "DET classes as sums of their leaves (classes without training boxes keep the teacher's "
                          "knowledge); none: a new head over background + the training classes; auto: imagenet1k "
                          "when --init is such a model, else none."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _echo(*args, **kwargs):
    """click.echo on rank 0 only (every process under torchrun runs this command)."""
    if distributed.is_main():
        click.echo(*args, **kwargs)


# `train ensemble`: the warnings and notes about the data already printed (its members read the same data: each
# was printed once per member); None outside an ensemble
_SAID: contextvars.ContextVar[set | None] = contextvars.ContextVar("said", default=None)


def _data_warning(text: str) -> None:
    """A warning or note about the training or validation data on stderr (rank 0) — once in a `train ensemble`."""
    said = _SAID.get()
    if said is not None:
        if text in said:
            return
        said.add(text)
    _echo(text, err=True)


def _proposals(datasets, search, cache, workers, desc):
    """:func:`detector.train.dataset_proposals` with a progress bar, its failures printed as warnings."""
    def progress(results, total):
        return tqdm(results, total=total, desc=desc, unit="img", disable=None if distributed.is_main() else True)

    boxes, errors = dataset_proposals(datasets, search, cache=cache, workers=workers, progress=progress)
    for error in errors:
        _data_warning(f"warning: {error} (image left out)")
    return boxes


def _recorded_init(init: Path | None, out: Path, resume: bool) -> str | None:
    """The ``init`` a model file of the run writing ``out`` records: ``--init`` in a fresh run; in one resumed from
    its state file, the ``--init`` that run was started with, as its last checkpoint records it (the one given now
    is not used: trial 54 found it recorded, so the model named a file its weights never came from)."""
    if resume and state_path(out).is_file():
        try:
            before = torch.load(last_path(out), map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - unreadable: the resume itself says what is wrong with it
            before = None
        if isinstance(before, dict) and isinstance(before.get("train"), dict) and "init" in before["train"]:
            recorded = before["train"]["init"]
            return recorded if isinstance(recorded, str) else None
    return str(init) if init else None


def _same_init(a: str | None, b: str | None) -> bool:
    """Whether two ``--init`` values name the same weights: both none, the same path once resolved, or files of the
    same bytes."""
    if a is None or b is None:
        return a is None and b is None
    if same_paths([a], [b]):
        return True
    return Path(a).is_file() and Path(b).is_file() and file_sha256(a) == file_sha256(b)


def _check_new_members_init(out: Path, members: int, init: Path | None) -> None:
    """``train ensemble --resume``: a member that starts now (no state file: ``--members`` raised, or one never
    begun) starts from ``--init``; the members going on from their state started from the ``--init`` their last
    checkpoints record. Refused when the two differ, before any trains — members differ only in seed and sampling
    order (trial 59: ``--members 3 --resume --init other.pt`` trained member 2 from other.pt beside members 0-1 from
    the first file, without a word)."""
    going_on = [k for k in range(members) if state_path(out / f"member{k}.pt").is_file()]
    starting = [k for k in range(members) if k not in going_on]
    if not going_on or not starting:
        return
    given = str(init) if init else None
    for k in going_on:
        started = _recorded_init(None, out / f"member{k}.pt", True)
        if not _same_init(started, given):
            def start(i):
                return f"from --init {i}" if i else "from scratch (no --init)"
            raise click.ClickException(
                f"cannot resume {out}: member{starting[0]}.pt would start {start(given)}, while member{k}.pt started "
                f"{start(started)} (an ensemble's members differ only in seed and sampling order): give "
                f"{f'--init {started}' if started else 'no --init'}, or delete every member's state file "
                f"(member*.state.ckpt) to start over")


def _note_init_unused(init: Path | None, out: Path) -> None:
    """With ``--resume``: say that ``--init`` is not used when the run goes on from its own state file."""
    if init is not None and state_path(out).is_file():
        _echo(f"note: --init {init} is not used: the run goes on from its own state ({state_path(out)})", err=True)


def _load_all(paths, fmt, images, split: str) -> list[Dataset]:
    """``split``: a YOLO data.yaml's split to read — "train" for training data, "val" for validation data."""
    out = []
    for p in paths:
        ds = load_dataset(p, fmt, images=images, split=split)
        missing = [im.file_name for im in ds.images if im.path is None]
        if missing:  # which ones, and where they were looked for (trial 32: neither was said)
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            where = f"not in --images {images}" if images is not None else \
                "pass --images DIR if they are elsewhere"
            _data_warning(f"warning: {len(missing)} of the {count(len(ds), 'image')} of {p} "
                          f"{'has' if len(missing) == 1 else 'have'} no image file (left out: {shown}); {where}")
        out.append(ds)
    return out


def _prepare(run: ClassifierRun):
    """Read the data, settle the classes and the spec, and compute the proposals: (classes, spec, training images,
    validation sets that are scored (:func:`_scored_val_sets`), their proposals, the training data's digest, the
    hard negatives' digest, the digest of every --val set given). Warnings about the data: :func:`_data_warning`."""
    train_sets, hard, digest, hard_digest = _training_data(run)
    exhaustive = [True] * len(run.gts) + [False] * len(run.partial_gts)
    val_sets = _load_all(run.vals, run.fmt, run.images, "val") if run.vals else []
    val_digest = data_digest(val_sets, 0)  # of every set given, scored or not: what a --resume must give again
    if run.resume and state_path(run.out).is_file():
        _check_resumed_val(run, val_digest)
    class_map = class_map_of(run.init) if run.class_map == "auto" else ("" if run.class_map == "none" else
                                                                         run.class_map)
    # a mapped head scores every ILSVRC DET class (through the ImageNet leaves), whatever the data holds
    classes = ilsvrc_categories() if class_map else build_class_list(train_sets, ilsvrc_only=run.class_set == "ilsvrc")
    if not classes:
        boxed = [im for ds in train_sets for im in ds.images if len(im.labels)]
        why = "" if not boxed or any(im.path is not None for im in boxed) else (  # trial 19: said no more
            f": its {count(len(boxed), 'image')} with boxes {'has' if len(boxed) == 1 else 'have'} no image file "
            "here — pass --images DIR, the folder that holds them (an image only embedded in its annotation, as "
            "LabelMe's imageData, is not read for training: save it as a file)" if run.images is None else
            # trial 32: said to pass the --images it was given
            f": none of its {count(len(boxed), 'image')} with boxes is in --images {run.images} — give the folder "
            "that holds them")
        if not why and run.class_set == "ilsvrc" and (found := build_class_list(train_sets)):  # trial 32: "no boxes"
            names = sorted(c.name for c in found)
            raise click.ClickException(
                f"the training data has no box of an ILSVRC class, which --classes ilsvrc keeps alone (its classes: "
                f"{', '.join(names[:5])}{', …' if len(names) > 5 else ''}): leave --classes out to learn them")
        if not why:  # trial 54: said no more, naming no file
            n = sum(len(ds.images) for ds in train_sets)
            why = f": {', '.join(str(p) for p in [*run.gts, *run.partial_gts])}: {count(n, 'image')}, none with a box"
        raise click.ClickException(f"the training data has no boxes{why}")
    known = {c.key for c in classes}
    if not class_map:  # trial 54: a class the data names (data.yaml, COCO categories) with no box went unmentioned
        declared = {c.key: c for ds in train_sets if ds.format != "ilsvrc" for c in ds.classes}  # ILSVRC: all 200
        boxless = sorted(c.name for k, c in declared.items()
                         if k not in known and not (run.class_set == "ilsvrc" and c.det_id is None))
        if boxless:
            _data_warning(f"note: {count(len(boxless), 'class', 'classes')} of the training data "
                          f"({', '.join(repr(n) for n in boxless[:5])}{', …' if len(boxless) > 5 else ''}) "
                          f"{'has' if len(boxless) == 1 else 'have'} no box on an image found: not learnt, the model "
                          f"has {count(len(classes), 'class', 'classes')}")
    if class_map:  # trial 43: classes outside the ILSVRC 200 (pedestrian, bottle) were left out without a word
        _check_mapped_classes(run, build_class_list(train_sets), known)
    val_sets = _scored_val_sets(run.vals, val_sets, known)
    ss, cache, workers = run.proposals.selective_search, ProposalCache(run.cache_dir), run.train.workers
    train_props = _proposals(train_sets, ss, cache, workers, "proposals (train)")
    val_props = [_proposals([ds], ss, cache, workers, "proposals (val)") for ds in val_sets]
    train_images = prepare_images(train_sets, classes, train_props, exhaustive, hard)
    if not train_images:  # say why (trial 45: "could not be read" of images left out for their size)
        images = [im for ds in train_sets for im in ds.images]
        unused = sum(1 for im, props in zip(images, train_props) if im.path is not None and props is None)
        why = (f": {count(unused, 'image')} with a file could not be used, each named in a warning above "
               "(unreadable, or not the size its annotation gives)" if unused else "")
        raise click.ClickException(f"no training image left{why}")
    try:
        spec = replace(run.spec, num_classes=1000 if class_map else len(classes) + 1, class_map=class_map)
        if run.resume and state_path(run.out).is_file():
            check_resume_spec(run.out, spec)
    except (ValueError, CheckpointError) as e:
        raise click.ClickException(str(e)) from None
    return classes, spec, train_images, val_sets, val_props, digest, hard_digest, val_digest


def _scored_val_sets(paths, val_sets: list[Dataset], known: set) -> list[Dataset]:
    """The --val sets (``val_sets``, read from ``paths``) that validation scores: those with a box of a class the
    model learns (``known``: their keys). A set without one scores 0 at every epoch whatever the model does — an mAP
    over none of its classes — so it is left out, with a warning naming it (:func:`_data_warning`); when that leaves
    none, no epoch is validated and ``--out`` is the last epoch's model, as without --val (it used to be warned of,
    then validated every epoch at 0.0000, and the first epoch stayed the "best" model, no later 0 beating it)."""
    kept, left = [], []
    for path, ds in zip(paths, val_sets):
        # only images with a file are validated (trial 68: a --val whose image files were all elsewhere scored
        # 0.0000 at every epoch, and the first epoch was kept as the "best" model)
        boxed = {ds.classes[int(k)] for im in ds.images if im.path is not None for k in im.labels}
        if {c.key for c in boxed} & known:
            kept.append((path, ds))
        else:
            unfound = {ds.classes[int(k)].key for im in ds.images if im.path is None for k in im.labels} & known
            left.append((path, None if unfound else sorted(c.name for c in boxed)))
    for path, names in left:
        boxes = (f"its boxes are {', '.join(names[:5])}{', …' if len(names) > 5 else ''}" if names else
                 "it has no box")
        lacks = ("has no image file holding a box of a class the model learns (the images of its boxes have none, "
                 "as warned above)" if names is None else f"has no box of a class the model learns ({boxes})")
        then = (f"the best epoch is picked on --val {' --val '.join(str(p) for p, _ in kept)}" if kept else
                "no --val is left, so no epoch is validated and --out is the last epoch's model")
        text = (f"warning: --val {path} {lacks}: left out of validation "
                f"(its mAP would be 0 at every epoch); {then}")
        _data_warning(text)
    return [ds for _, ds in kept]


def _check_mapped_classes(run: ClassifierRun, found, known: set) -> None:
    """A mapped head (``--class-map imagenet1k``, the default for a distilled ``--init`` such as the bundled
    members) learns the 200 ILSVRC DET classes alone: training classes outside them (``found``, the classes with
    boxes) are never learnt — refused when none is learnt, warned of otherwise, naming them and ``--class-map
    none``."""
    unlearnt = sorted(c.name for c in found if c.key not in known)
    if not unlearnt:
        return
    ilsvrc = [c.name.lower() for c in ilsvrc_categories()]

    def named(n):  # a misspelt ILSVRC name ('persn') is said with the names it is close to (trial 68)
        close = closest_names(n, ilsvrc, cutoff=0.75)  # a typo, not any name sharing letters ('pedestrian')
        return repr(n) + (f" (closest ILSVRC names: {', '.join(close)})" if close else "")
    shown = ", ".join(named(n) for n in unlearnt[:5]) + (", …" if len(unlearnt) > 5 else "")
    typo = " (or rename the class in the annotations to the ILSVRC name it is)" if "(closest ILSVRC names" in shown else ""
    default = f" (the default for --init {run.init})" if run.class_map == "auto" else ""
    why = f"--class-map imagenet1k{default} learns only the 200 ILSVRC DET classes"
    if len(unlearnt) == len(found):
        raise click.ClickException(f"{why}, and none of the training data's classes is one of them ({shown}): "
                                   f"give --class-map none to learn them with a new head{typo}")
    _data_warning(f"warning: {why}: the training data's {count(len(unlearnt), 'class', 'classes')} {shown} will not "
                  f"be learnt ({'its' if len(unlearnt) == 1 else 'their'} objects are neither foreground nor "
                  f"background); --class-map none learns every class with a new head{typo}")


def _training_data(run: ClassifierRun):
    """The training sets, their hard negatives (:func:`_hard_negatives`) and the digests of both, read before any
    proposal is computed; a ``--resume`` whose data or hard negatives differ from the run's is refused here
    (:func:`_check_resumed_data`)."""
    train_sets = _load_all(run.gts + run.partial_gts, run.fmt, run.images, "train")
    hard = _hard_negatives(run.hard_negatives, train_sets)
    digest = data_digest(train_sets, len(run.partial_gts))
    hard_digest = hard_negatives_digest(hard, run.train.hard_fraction)
    if run.resume and state_path(run.out).is_file():
        _check_resumed_data(run, digest, hard_digest, hard)
    return train_sets, hard, digest, hard_digest


def data_digest(datasets, partial: int) -> str:
    """sha256 of what training reads from ``datasets`` (the last ``partial`` of them --gt-partial): each image's
    name and boxes, their classes, difficult and crowd flags — the content, whatever path or copy it comes from."""
    h = hashlib.sha256()
    for k, ds in enumerate(datasets):
        h.update(f"set {k} partial {k >= len(datasets) - partial}\n".encode())
        for im in ds.images:
            h.update(f"{im.file_name}|{[ds.classes[int(lbl)].key for lbl in im.labels]}\n".encode())
            for a in (im.boxes.astype("<f8"), im.difficult.astype("u1"), im.iscrowd.astype("u1")):
                h.update(a.tobytes())
    return h.hexdigest()


def _hard_negatives(paths, datasets) -> list[np.ndarray | None] | None:
    """The detections of the ``--hard-negatives`` files on each image of ``datasets`` (in their order, as the
    proposals are): float64 [H, 4] xyxy, each box once (the same detections given twice count once; empty boxes left
    out), or None for an image none of them covers; None without files. Images are matched by name as ``detect
    eval`` matches predictions to ground truth (:func:`eval.predictions.match_images`). Refused (``ClickException``
    naming the file): a file that is not JSON results, without image names, none of whose detections is on a
    training image, a detection image whose name fits images of two training sets that are different files, a
    detection on an image of another size than annotated (``boxes.json`` records the size it ran on) or reaching
    more than a pixel beyond the annotated image (COCO results record no size: a resized copy's boxes are caught
    only so). A note says what each file gave; a file without detections is warned about."""
    if not paths:
        return None
    per_image: list[list[np.ndarray | None]] = [[None] * len(ds.images) for ds in datasets]
    for path in paths:
        try:
            if decode_text(path.read_bytes()).lstrip()[:1] not in ("{", "["):
                raise PredictionError(f"{path}: not JSON: hard negatives are read from `detect run`'s boxes.json "
                                      "or COCO results with each image's file_name (`detect run --format coco`)")
            preds = read_predictions(path)
            if any(name is None for name in preds.image_names):
                raise PredictionError(f"{path}: its results give images by image_id only: hard negatives need each "
                                      "image's file_name (`detect run` writes it in both boxes.json and --format "
                                      "coco)")
            on = np.zeros(len(preds), bool)
            covered = given = 0
            fits: dict[str, tuple] = {}  # a detection image's name -> the first training image it fits
            for d, ds in enumerate(datasets):
                index, _ = match_images(preds, ds)
                for g in np.unique(index[index >= 0]):
                    at = np.flatnonzero(index == g)
                    name, image = preds.image_names[int(at[0])], ds.images[g]
                    first = fits.setdefault(name, (image, d))
                    if first[1] != d and _other_file(first[0].path, image.path):
                        raise PredictionError(
                            f"{path}: its image {name!r} fits {first[0].file_name!r} of the training set "
                            f"{datasets[first[1]].source} and {image.file_name!r} of {ds.source}, other files: "
                            "whose detections they are is unknown (name the images by longer paths: run `detect run` "
                            "on the training images as the ground truth names them)")
                    _check_hard_negative_image(path, preds, at, image)
                    mine = preds.boxes[at]
                    mine = np.unique(mine[(mine[:, 2] > mine[:, 0]) & (mine[:, 3] > mine[:, 1])], axis=0)
                    before = per_image[d][g]
                    per_image[d][g] = mine if before is None else np.unique(np.concatenate([before, mine]), axis=0)
                    covered += 1
                    given += len(mine)
                on |= index >= 0
        except UnicodeDecodeError as e:  # trial 34: a PNG was "'utf-8' codec can't decode byte 0x00 …"
            raise click.ClickException(f"--hard-negatives {path}: {not_text(e)}, not detections (`detect run`'s "
                                       "boxes.json or COCO results)") from None
        except OSError as e:
            raise click.ClickException(f"--hard-negatives {path}: cannot read: {e.strerror or e}") from None
        except PredictionError as e:
            raise click.ClickException(f"--hard-negatives {e}") from None
        if len(preds) and not on.any():
            names = list(dict.fromkeys(preds.image_names))
            raise click.ClickException(
                f"--hard-negatives {path}: none of its {count(len(preds), 'detection')} is on an image of the "
                f"training data (its images: {', '.join(map(repr, names[:3]))}{' …' if len(names) > 3 else ''}): "
                "run `detect run` on the training images")
        if not len(preds):
            _echo(f"warning: --hard-negatives {path} holds no detections: it adds no hard negative", err=True)
            continue
        total = sum(len(ds.images) for ds in datasets)
        _echo(f"hard negatives: {path}: {count(given, 'detection')} on {covered} of the {total} training images"
              + (f"; {int((~on).sum())} on other images left out" if (~on).any() else ""), err=True)
    return [boxes for per in per_image for boxes in per]


def _other_file(a, b) -> bool:
    """Whether image files ``a`` and ``b`` (paths, or None when missing) are different files."""
    if a is None or b is None:
        return a is not b
    try:
        return not Path(a).samefile(b)
    except OSError:
        return Path(a) != Path(b)


def _check_hard_negative_image(path, preds, at: np.ndarray, image) -> None:
    """Refuse detections ``at`` (indices into ``preds``) on training ``image`` when they are in other pixels than
    its annotations: the file records another size for it, or a box reaches beyond the annotated image."""
    name = preds.image_names[int(at[0])]
    size = preds.image_sizes.get(name)
    if size is not None and image.width > 0 and image.height > 0 and size != (image.width, image.height):
        raise PredictionError(
            f"{path}: its image {name} is {size[0]}x{size[1]}, the training image {image.file_name} "
            f"{image.width}x{image.height}: the detections are in other pixels (a resized copy?). Run `detect run` "
            "on the training images themselves")
    if image.width > 0 and image.height > 0:
        b = preds.boxes[at]
        out = (b[:, 0] < -1) | (b[:, 1] < -1) | (b[:, 2] > image.width + 1) | (b[:, 3] > image.height + 1)
        if out.any():
            k = int(at[np.flatnonzero(out)[0]])
            raise PredictionError(
                f"{path}: a detection on {name} (box {np.round(preds.boxes[k], 1).tolist()}, xyxy) reaches beyond the "
                f"training image {image.file_name} ({image.width}x{image.height}): the detections are in other "
                "pixels (a resized copy?). Run `detect run` on the training images themselves")


def hard_negatives_digest(hard_negatives, fraction: float) -> str:
    """sha256 of the hard negatives a run trains with (:func:`_hard_negatives`, None: none) and their
    ``--hard-fraction``: what a resumed run must share besides its ground truth."""
    h = hashlib.sha256()
    if hard_negatives is None:
        return h.hexdigest()
    h.update(f"hard fraction {fraction!r}\n".encode())
    for boxes in hard_negatives:
        h.update(b"-" if boxes is None else np.asarray(boxes, "<f8").tobytes() + b"|")
    return h.hexdigest()


# TrainConfig fields a resumed run must share with the run it goes on with (the rest — epochs, workers, threads,
# val_every — may change; hard_fraction is checked with the hard negatives)
_RESUMED_SAME = ("images_per_batch", "regions_per_image", "fg_fraction", "fg_iou", "bg_iou_low", "lr", "momentum",
                 "weight_decay", "lr_decay", "lr_step_epochs", "warmup_iters", "schedule", "aux_weight",
                 "bbox_weight", "flip", "photometric", "seed")


def _check_resumed_data(run: ClassifierRun, digest: str, hard_digest: str, hard=None) -> None:
    """Refuse to resume a run with other training data than its last checkpoint records: its content digest
    (``data_digest``: an edited label is other data, an identical copy elsewhere is not), or for files written
    before digests were kept, the ``--gt``/``--gt-partial`` paths; other hard negatives or ``--hard-fraction``
    (``hard_negatives_digest`` of ``hard``, the boxes read now; a run recorded before hard negatives existed had
    none; the message names the files only when their boxes differ, not a copy elsewhere); other sampling or
    optimisation settings (``_RESUMED_SAME``: ``--fg-iou``, ``--lr``, ``--seed``, …; those a record lacks are not
    compared)."""
    last = last_path(run.out)
    try:
        before = read_checkpoint(last, CHECKPOINT_FORMAT).get("train") or {}
    except CheckpointError:
        return  # no last checkpoint (or an unreadable one): the state file's own checks decide
    if before.get("hard_digest", hard_negatives_digest(None, 0.0)) != hard_digest:
        was = " ".join(before.get("hard_negatives") or [])
        was_fraction = (before.get("config") or {}).get("hard_fraction")
        now = " ".join(map(str, run.hard_negatives))
        files = setting_change("--hard-negatives", now or "(none)", was or "(none)")
        same_boxes = was and now and isinstance(was_fraction, (int, float)) and \
            hard_negatives_digest(hard, was_fraction) == before.get("hard_digest")  # the fraction alone changed
        changes = [] if same_boxes else [
            files + (": their detections changed" if same_paths(before.get("hard_negatives") or [], run.hard_negatives)
                     else "")]
        if was and now and was_fraction != run.train.hard_fraction:
            changes.append(setting_change("--hard-fraction", run.train.hard_fraction, was_fraction))
        raise click.ClickException(refused_resume(run.out, changes, what="hard negatives"))
    _check_resumed_settings(run, before)
    given = " ".join(map(str, [*run.gts, *run.partial_gts]))
    if "train_digest" in before:
        if before["train_digest"] != digest:
            was = " ".join(before.get("train_sets", []) + before.get("partial_sets", []))
            edited = _edited_since(before.get("train_sets", []) + before.get("partial_sets", []),
                                   [*run.gts, *run.partial_gts])
            raise click.ClickException(refused_resume(run.out, [setting_change("--gt", given, was) + f":{edited} other "
                                                                "images, boxes or classes"], what="training data"))
        return
    for key, now in (("train_sets", run.gts), ("partial_sets", run.partial_gts)):
        if key not in before:
            continue
        if not same_paths(before[key], now):
            flag = "--gt" if key == "train_sets" else "--gt-partial"
            raise click.ClickException(refused_resume(
                run.out, [setting_change(flag, " ".join(map(str, now)) or "(none)", " ".join(before[key]) or "(none)")],
                what="training data"))


def _check_resumed_val(run: ClassifierRun, val_digest: str) -> None:
    """Refuse to resume ``run`` with other validation data (``--val``: its content, ``data_digest``) than its last
    checkpoint records: the best checkpoint is the epoch of the highest validation mAP, so an mAP on other images
    would be compared with the earlier epochs' (trial 32: a resumed run validated on its training images took the
    best place with 0.69 against 0.16, silently). A record without the digest (written before it was kept) is not
    compared."""
    try:
        before = read_checkpoint(last_path(run.out), CHECKPOINT_FORMAT).get("train") or {}
    except CheckpointError:
        return
    if before.get("val_digest", val_digest) == val_digest:
        return
    member = before.get("ensemble_member")
    over = f"delete {state_path(run.out)} to start over" if not isinstance(member, int) or \
        isinstance(member, bool) else \
        f"delete the members' state files ({run.out.parent / 'member*.state.ckpt'}) to start the ensemble over"
    was = " ".join(before.get("val_sets") or []) or "(none)"
    now = " ".join(map(str, run.vals)) or "(none)"
    edited = _edited_since(before.get("val_sets") or [], run.vals)
    raise click.ClickException(refused_resume(
        run.out, [setting_change("--val", now, was) + f":{edited} the best checkpoint is picked by comparing each "
                  "epoch's validation mAP with the earlier epochs'"], what="validation data", start_over=over))


def _edited_since(was, now) -> str:
    """`` the same files, edited since:`` when a resumed run names the files its run recorded but their content
    differs (trial 68: '--val v.json now, v.json in that run' said no more of what had changed), else ``""``."""
    return " the same files, edited since;" if was and now and same_paths(was, now) else ""


def _check_resumed_settings(run: ClassifierRun, before: dict | None = None, ensemble: bool = False) -> None:
    """Refuse to resume ``run`` with other sampling or optimisation settings than its last checkpoint records
    (``before``: its ``train`` entry, read when not given): ``_RESUMED_SAME`` (``--fg-iou``, ``--lr``, ``--seed``, …)
    and the selective-search scale of its training proposals (``--ss-scale``); those a record lacks are not
    compared. Resumed by ``train ensemble`` (``ensemble``), a member's seed is named as ``--seed`` gives it (member k
    trains with ``--seed`` + k); by ``train classifier --out DIR/member<k>.pt``, as it is (trial 35: '--seed -1 now,
    0 in that run' for the default --seed 0 on member1, whose seed is 1), and the
    refusal says to start the whole ensemble over (trial 19: deleting the one member's state named retrained it
    with the new seed — the same as the next member's — and the next member was refused in turn)."""
    if before is None:
        try:
            before = read_checkpoint(last_path(run.out), CHECKPOINT_FORMAT).get("train") or {}
        except CheckpointError:
            return
    started = before.get("config") or {}
    now_config = run.train.to_dict()
    member = before.get("ensemble_member")
    member = member if isinstance(member, int) and not isinstance(member, bool) else None
    changed = [k for k in _RESUMED_SAME if k in started and k in now_config and started[k] != now_config[k]]
    diffs = []
    for k in changed:
        if k in ("images_per_batch", "regions_per_image"):  # both come from --batch-size: named once, as given
            if "--batch-size" not in {d[0] for d in diffs}:
                diffs.append(("--batch-size", now_config["images_per_batch"] * now_config["regions_per_image"],
                              started["images_per_batch"] * started.get("regions_per_image", 1)))
        elif k == "seed" and member is not None and ensemble:
            diffs.append(("--seed", now_config[k] - member, started[k] - member))
        else:
            diffs.append((option_flag(k), now_config[k], started[k]))
    was_scale = (before.get("selective_search") or {}).get("scale")
    if was_scale is not None and was_scale != run.proposals.selective_search.scale:  # other training proposals
        diffs.append(("--ss-scale", run.proposals.selective_search.scale, was_scale))
    if diffs:  # trial 18: another --fg-iou was taken silently and the model recorded only the new value
        over = f"delete {state_path(run.out)} to start over" if member is None else \
            f"delete the members' state files ({run.out.parent / 'member*.state.ckpt'}) to start the ensemble over"
        raise click.ClickException(refused_resume(
            run.out, [setting_change(*d) for d in diffs], what="training settings",
            may_change="--epochs, --workers, --threads and --val-every", start_over=over))


def train_member(run: ClassifierRun, extra_meta: dict | None = None):
    """Train one member as ``run`` says, printing its progress and epochs (rank 0); returns its ``LoopState``."""
    dev = distributed.init(resolve_device(run.device))  # under torchrun: join the group (once), this rank's device
    if run.resume and (done := finished_state(run.out, run.train.epochs)) is not None:
        try:  # settings that differ from the finished run's are refused, as when resuming one that stopped
            check_resume_spec(run.out, run.spec, ignore=("num_classes", "class_map"))
        except CheckpointError as e:
            raise click.ClickException(str(e)) from None
        _training_data(run)  # other data or hard negatives are refused too (an ensemble would mix members' data)
        return nothing_to_resume(run.out, run.train.epochs, done)
    if run.resume:
        _note_init_unused(run.init, run.out)
    # the weights start from --init only in a fresh run: a resumed one goes on from its own state (trial 54: an
    # --init said "not used" was then read and refused — a text file, or another width — as trial 53 found for
    # MultiBox); other network settings than the run's are refused by the resume's own check, naming the run
    use_init = run.init is not None and not (run.resume and state_path(run.out).is_file())
    if use_init:  # a wrong --init stops the run before the proposals of every image are computed
        try:
            obj = read_init_file(run.init)
            if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:  # one of our files: arch and width
                other = read_spec(obj, run.init)
                check_init_spec(other, run.spec, run.init)
                if other.input_size != run.spec.input_size and not run.resume:  # trial 32: without a word
                    _echo(f"note: --init {run.init} was trained on {other.input_size} px regions; this run trains on "
                          f"{run.spec.input_size} (--input-size {other.input_size} keeps its size)", err=True)
                if run.class_map == "imagenet1k" and other.class_map != "imagenet1k" and not run.resume:
                    _echo(f"note: --class-map imagenet1k, but --init {run.init} has no ImageNet head (its classes: "
                          f"{count(other.num_classes - 1, 'class', 'classes')}): the 1,000-way head starts untrained, "
                          "with no ImageNet knowledge behind the mapping — a distilled trunk (`detect train "
                          "distill`'s) or a bundled member has one (trial 43)", err=True)
        except CheckpointError as e:
            raise click.ClickException(str(e)) from None
    classes, spec, train_images, val_sets, val_props, digest, hard_digest, val_digest = _prepare(run)
    config, out = run.train, run.out
    init_fn = None
    if use_init:
        def init_fn(model):
            try:
                load_init_weights(model, spec, run.init, classes)
            except CheckpointError as e:
                raise click.ClickException(str(e)) from None

    def progress(loader, epoch):
        return tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", disable=None, leave=False)

    world = distributed.world_size()
    on = f"{world} processes ({dev.type}), {world * config.images_per_batch * config.regions_per_image} regions " \
        "per iteration in all" if world > 1 else str(dev)
    _echo(f"training {out}: {count(len(train_images), 'image')}, {count(len(classes), 'class', 'classes')}, "
          f"{spec.arch} {spec.input_size}px width {spec.width} {spec.mode} mode, {count(config.epochs, 'epoch')} on "
          f"{on}")
    meta = {"name": out.stem, "train_sets": [str(g) for g in run.gts],
            "partial_sets": [str(g) for g in run.partial_gts], "train_digest": digest,
            "hard_negatives": [str(p) for p in run.hard_negatives], "hard_digest": hard_digest,
            "val_sets": [str(v) for v in run.vals], "val_digest": val_digest,
            "init": _recorded_init(run.init, out, run.resume),
            "selective_search": {"scale": run.proposals.selective_search.scale}, **(extra_meta or {})}
    validate = make_validator(val_sets, val_props, max_proposals=run.proposals.max_proposals, device=dev,
                              mode=run.val_mode)
    def show(st):  # as each epoch ends: a log that is no terminal (nohup, Slurm) shows the run as it goes
        rec = st.history[-1]
        extra = f"  val mAP {rec['val_mAP']:.4f}" if "val_mAP" in rec else ""
        _echo(f"epoch {rec['epoch']:>3}  loss {rec['loss']:.4f}  {rec['regions_per_s']:.0f} regions/s{extra}")

    state = train_classifier(train_images, classes, spec, config, out, init=init_fn, validate=validate,
                             resume=run.resume, device=dev, progress=progress, metadata=meta, half=run.half,
                             drop_aux=run.drop_aux, on_epoch_end=show)
    _echo(files_written(out, state))
    return state


def _classifier_run(out: Path, options: dict) -> ClassifierRun:
    try:
        run = classifier_from_options(options, out)
    except ValueError as e:  # settings the spec refuses
        raise click.ClickException(str(e)) from None
    if not run.hard_negatives and run.train.hard_fraction != TrainConfig.hard_fraction:  # once, not per member
        _echo("warning: --hard-fraction is not used without --hard-negatives", err=True)
    if run.vals and not run.train.val_every:  # trial 54: --val was taken and never scored, the last epoch "best"
        _echo("note: --val-every 0: --val is never scored (no epoch is validated), so --out is the last epoch's "
              "model; give --val-every N to validate every N epochs and keep the best", err=True)
    seen: dict[str, str] = {}
    for flag, p in [("--gt", p) for p in run.gts] + [("--gt-partial", p) for p in run.partial_gts]:
        if (key := os.path.realpath(p)) in seen:  # trial 23: taken without a word
            _echo(f"warning: {p} is given twice ({seen[key]} and {flag}): its images are trained on twice", err=True)
        seen.setdefault(key, flag)
    return run


@train_group.command("classifier")
@click.option("--out", type=OutFile("member0.pt"), required=True,
              help="Model file to write (best checkpoint); <stem>.last.ckpt, <stem>.state.ckpt (for --resume) and "
                   "<stem>.log.jsonl beside it.")
@_common_options
@stops_resumably()
def train_classifier_cmd(out, **options):
    """R-CNN fine-tuning of one GoogLeNet region classifier on warped proposal regions (25 % foreground at
    IoU >= 0.5 (--fg-iou), background at IoU in [0.1 (--bg-iou-low), 0.5)), SGD momentum 0.9, the paper's step
    schedule after a warm-up.

    Data-parallel under torchrun: each of W processes trains on its share of the images, BATCH_SIZE regions per
    process per iteration (W × BATCH_SIZE in all; --lr is not rescaled)."""
    check_out_folder(out.parent, f"--out {out}")
    run = _classifier_run(out, options)
    try:
        train_member(run)
    finally:
        distributed.cleanup()


@train_group.command("ensemble")
@click.option("--members", type=click.IntRange(min=1), default=3, show_default=True,
              help="Members to train (the paper: 6); they differ only in seed and sampling order.")
@click.option("--out", type=OutDir("models/ensemble/"), required=True,
              help="Folder to write member0.pt … (load it with `detect run --model DIR`).")
@_common_options
@stops_resumably(folder=True)
def train_ensemble_cmd(members, out, **options):
    """Train an ensemble: MEMBERS classifiers that differ only in seed and sampling order, as in the paper.
    Under torchrun all processes train each member together, one member after another."""
    check_out_folder(out, f"--out {out}")
    run = _classifier_run(out, options)
    out.mkdir(parents=True, exist_ok=True)
    summary = []
    said = _SAID.set(set())  # a warning about the data, once for the ensemble (the members train on the same)
    try:
        distributed.init(resolve_device(run.device))  # before the first line is printed: rank 0 alone prints
        if run.resume:  # every member's settings before any is trained (trial 19: member 0 retrained, then refused)
            for k in range(members):
                if state_path(out / f"member{k}.pt").is_file():
                    _check_resumed_settings(replace(run, out=out / f"member{k}.pt",
                                                    train=replace(run.train, seed=run.train.seed + k)),
                                            ensemble=True)
            _check_new_members_init(out, members, run.init)
        for k in range(members):
            seed = run.train.seed + k
            _echo(f"— member {k + 1}/{members} (seed {seed})")
            st = train_member(replace(run, out=out / f"member{k}.pt", train=replace(run.train, seed=seed)),
                              extra_meta={"ensemble_member": k})
            summary.append({"member": k, "seed": seed, "best_val_mAP": st.best if st.best >= 0 else None})
        if distributed.is_main():
            atomic_write_text(out / "ensemble.json", json.dumps({"members": summary}, indent=1) + "\n")
            click.echo(f"wrote {count(members, 'member')} to {out}")
    finally:
        _SAID.reset(said)
        distributed.cleanup()


_PRIORS_HEADER = "# MultiBox priors"  # how a priors file of ours begins (proposals/priors_200.txt too)


@train_group.command("priors")
@click.option("--gt", "gts", multiple=True, required=True, type=click.Path(exists=True, path_type=Path),
              help="Ground truth whose boxes are clustered (repeatable).")
@format_option
@click.option("-k", "--num-priors", type=click.IntRange(min=1), default=MultiBoxConfig.num_priors, show_default=True)
@click.option("--out", type=OutFile("priors.txt"), required=True,
              help="Text file: one prior per line, normalised x1 y1 x2 y2.")
@click.option("--seed", type=int, default=0, show_default=True)
def train_priors_cmd(gts, fmt, num_priors, out, seed):
    """MultiBox priors: k-means centres of ground-truth boxes normalised by their image size."""
    from proposals.multibox import kmeans_priors

    refuse_replacing_inputs({"--out": out}, gts)  # trial 22: --out naming its own --gt replaced the annotations
    if out.is_file() and not out.read_bytes()[:len(_PRIORS_HEADER)] == _PRIORS_HEADER.encode():
        raise click.ClickException(f"--out {out} exists and is not a priors file of `detect train priors`: it would be "
                                   "replaced (give another --out, or delete it first)")
    boxes = []
    for g in gts:
        ds = load_dataset(g, fmt, split="train")
        refuse_replacing_inputs({"--out": out}, dataset_files(ds))  # an annotation or image file inside a folder
        for im in ds.images:
            if im.width and im.height and len(im):
                boxes.append(np.clip(np.asarray(im.boxes, np.float32) / np.array([im.width, im.height, im.width,
                                                                                   im.height], np.float32), 0, 1))
    if not boxes:
        raise click.ClickException("no boxes to cluster")
    b = np.concatenate(boxes)
    if len(b) < num_priors:
        raise click.ClickException(f"-k {num_priors} priors need at least {num_priors} boxes, and the ground truth has "
                                   f"{len(b)}: give a smaller -k or more ground truth")
    click.echo(f"k-means of {len(b)} boxes into {num_priors} priors …")
    priors = kmeans_priors(b, num_priors, seed=seed)
    header = (f"{_PRIORS_HEADER[2:]}: k-means (k={num_priors}, seed {seed}) of {len(b)} boxes normalised xyxy, from "
              f"{', '.join(Path(g).name for g in gts)}; largest cluster first.\n"
              f"made by: detect train priors --gt {' --gt '.join(str(g) for g in gts)} -k {num_priors} --out {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"# {line}\n" for line in header.split("\n"))
    text += "".join(" ".join(f"{v:.5f}" for v in row) + "\n" for row in priors)
    atomic_write_text(out, text)  # as np.savetxt wrote it, but a crash leaves no half file
    click.echo(f"wrote {out}")


def _read_priors(path: Path) -> np.ndarray:
    """The priors [K, 4] of a --priors text file (as `detect train priors` writes it: 4 numbers a line, normalised
    x1 y1 x2 y2; '#' comments), or a usage error naming the file and what is wrong — trial 34: a PNG was "'utf-8'
    codec can't decode byte 0x89", a line of 3 numbers numpy's "the number of columns changed", 3 columns or an
    empty file a traceback; pixel, inverted or empty boxes were trained on without a word."""
    def bad(what: str):
        return click.BadParameter(f"{path}: {what}, not a priors file (4 numbers a line: a box's normalised x1 y1 x2 "
                                  "y2, as `detect train priors` writes)", param_hint="'--priors'")

    try:
        text = read_text(path)
    except OSError as e:
        raise click.BadParameter(f"{path}: cannot read it: {e.strerror or e}", param_hint="'--priors'") from None
    except UnicodeDecodeError as e:
        raise bad(not_text(e)) from None
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 4:
            raise bad(f"line {n} has {count(len(fields), 'field')}")
        try:
            row = [float(v) for v in fields]
        except ValueError:
            raise bad(f"line {n} is not 4 numbers: {line.strip()!r}") from None
        if not all(math.isfinite(v) for v in row):
            raise bad(f"line {n} has a value that is not a finite number: {line.strip()!r}")
        if not all(0 <= v <= 1 for v in row):  # pixels, say: a prior beyond the image, matched to nothing
            raise bad(f"line {n} has a value outside [0, 1] (not normalised by the image size): {line.strip()!r}")
        x1, y1, x2, y2 = row
        for lo, hi, axis in ((x1, x2, "x"), (y1, y2, "y")):  # inverted or empty: a box of no area
            if hi <= lo:
                raise bad(f"line {n} has {axis}2 {hi:g} {'=' if hi == lo else '<'} {axis}1 {lo:g} "
                          f"({'a box of no area' if hi == lo else 'an inverted box'}): {line.strip()!r}")
        rows.append(row)
    if not rows:
        raise bad("no boxes in it")
    return np.asarray(rows, dtype=np.float32)


def multibox_from_options(o: dict, *, k_given: bool = False
                          ) -> tuple[np.ndarray, MultiBoxConfig, MultiBoxTrainConfig]:
    """The priors [K, 4], network and training configs of ``detect train multibox``'s options ``o`` (``k_given``:
    -k was given, not left at its default)."""
    from proposals.multibox import load_default_priors

    if o["priors_path"]:
        priors = _read_priors(Path(o["priors_path"]))
        if k_given and o["num_priors"] != len(priors):  # the file's K was trained, -k dropped without a word
            raise click.BadParameter(f"-k {o['num_priors']}, and --priors {o['priors_path']} holds "
                                     f"{count(len(priors), 'prior')}: K is the number of priors of the file (leave -k "
                                     f"out, or give -k {len(priors)})", param_hint="'-k'")
    else:
        try:
            priors = load_default_priors(o["num_priors"])
        except FileNotFoundError as e:  # an option's value the tool cannot take: a usage error (trial 25: exit 1)
            raise click.BadParameter(f"{e}, then give them with --priors", param_hint="'-k'") from None
    return (priors, MultiBoxConfig(num_priors=len(priors), input_size=o["input_size"], width=o["width"]),
            MultiBoxTrainConfig(epochs=o["epochs"], batch_size=o["batch_size"], lr=o["lr"], seed=o["seed"],
                                crop_min_area=o["crop_min_area"], val_top_k=o["val_top"]))


@train_group.command("multibox")
@click.option("--gt", "gts", multiple=True, required=True, type=click.Path(exists=True, path_type=Path),
              help="Training ground truth (repeatable).")
@images_option
@format_option
@click.option("--val", "vals", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Validation ground truth: recall of the top --val-top boxes printed per epoch; picks the best epoch.")
@click.option("--val-top", type=click.IntRange(min=1), default=MultiBoxTrainConfig.val_top_k, show_default=True,
              help="How many of the best boxes (after NMS) --val's recall counts: fewer than K (-k, or the priors "
                   "of --priors), so that the ranking counts.")
@click.option("--out", type=OutFile("multibox.pt"), required=True,
              help="Model file (the best by validation recall, else the last); <stem>.last.ckpt, <stem>.state.ckpt "
                   "(for --resume) and <stem>.log.jsonl beside it.")
@click.option("--priors", "priors_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Priors text file (default: the shipped k-means priors for -k).")
@click.option("-k", "--num-priors", type=click.IntRange(min=1), default=MultiBoxConfig.num_priors, show_default=True,
              help="K, the number of priors (boxes per image); with --priors, the file's (a -k that differs is "
                   "refused).")
@click.option("--input-size", type=click.IntRange(min=96), default=MultiBoxConfig.input_size, show_default=True)
@click.option("--width", type=FiniteFloat(min=0.05, max=4), default=MultiBoxConfig.width, show_default=True,
              help="Channel multiplier of the Inception trunk.")
@click.option("--epochs", type=click.IntRange(min=1), default=MultiBoxTrainConfig.epochs, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=MultiBoxTrainConfig.batch_size, show_default=True)
@click.option("--lr", type=FiniteFloat(min=0, min_open=True), default=MultiBoxTrainConfig.lr, show_default=True)
@click.option("--seed", type=int, default=MultiBoxTrainConfig.seed, show_default=True)
@click.option("--crop-min-area", type=FiniteFloat(0.05, 1.0), default=MultiBoxTrainConfig.crop_min_area,
              show_default=True,
              help="Random crops (SSD's): half the images are replaced by a patch of this much to all of their area "
                   "(aspect 1/2 to 2; objects whose centre is inside kept); 1 = no crops.")
@device_option
@click.option("--threads", type=click.IntRange(min=0), default=0,
              help="torch threads (0: torch's default), as `detect train classifier`'s.")
@click.option("--resume", is_flag=True, help="Continue a stopped run from its state file.")
@click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Start the Inception trunk from a region-classifier model file of ours with the same --width "
                   "(e.g. the distilled trunk of `detect train distill`).")
@stops_resumably()
def train_multibox_cmd(gts, images, fmt, vals, out, device, threads, resume, init, **options):
    """Train a MultiBox proposal network (Hungarian matching, logistic confidence + α·L2 location loss).

    Data-parallel under torchrun: BATCH_SIZE images per process per iteration (--lr is not rescaled). Its images
    are decoded once, before the first epoch, and held in memory (no data-loading processes)."""
    check_out_folder(out.parent, f"--out {out}")
    if threads:
        torch.set_num_threads(threads)
    try:
        dev = distributed.init(resolve_device(device))
        given = {k for k in ("num_priors", "val_top")
                 if click.get_current_context().get_parameter_source(k) != click.core.ParameterSource.DEFAULT}
        try:
            priors, mb, cfg = multibox_from_options(options, k_given="num_priors" in given)
        except (OSError, ValueError) as e:
            raise click.ClickException(str(e)) from None
        k_from = f"the {len(priors)} priors of --priors {options['priors_path']}" if options["priors_path"] else "-k"
        _train_multibox(gts, images, fmt, vals, out, priors, mb, cfg, dev, resume, init, k_from=k_from,
                        val_top_given="val_top" in given, priors_file=options["priors_path"])
    finally:
        distributed.cleanup()


def _train_multibox(gts, images, fmt, vals, out, priors, mb: MultiBoxConfig, cfg: MultiBoxTrainConfig, dev, resume,
                    init=None, *, k_from="-k", val_top_given=False, priors_file=None):
    """``k_from``: where K came from, as the notes name it (-k, or the priors of a --priors file);
    ``val_top_given``: --val-top was given, not left at its default; ``priors_file``: --priors (recorded, so that
    a resume without it is told to give it again)."""
    from proposals.multibox import init_trunk, read_trunk_file
    from proposals.multibox_train import check_resume_settings, prepare_samples, sample_size, train_multibox

    def samples_of(sets, what, size):
        # an image without its file is warned of by _load_all, once (trial 65: a second time here, as "X: no image
        # file (left out)")
        recs = [im for ds in sets for im in ds.images if im.path is not None]
        s, skipped = prepare_samples(tqdm(recs, desc=f"loading {what}", unit="img",
                                          disable=None if distributed.is_main() else True), size)
        for msg in skipped[:5]:
            _echo(f"warning: {msg} (left out)", err=True)
        return s

    if resume:  # other settings than the run's are refused before any image is read, finished or not
        try:
            check_resume_settings(out, priors, mb, cfg, train_sets=gts, val_sets=vals)
        except CheckpointError as e:
            raise click.ClickException(str(e)) from None
        if nothing_to_resume(out, cfg.epochs) is not None:
            return
        _note_init_unused(init, out)  # trial 23: MultiBox said nothing
    trunk = None
    if init is not None and not (resume and state_path(out).is_file()):  # a wrong --init stops the run before
        # any image is decoded (trial 45: after all of them); the weights read are those the trunk starts from
        try:
            trunk = read_trunk_file(init, mb)
        except CheckpointError as e:
            raise click.ClickException(str(e)) from None
    if val_top_given and not vals:  # it counts --val's boxes: without one it was dropped without a word
        _echo(f"note: --val-top {cfg.val_top_k} has no effect without --val (it is how many boxes the validation "
              "recall counts)", err=True)
    train_sets = _load_all(gts, fmt, images, "train")
    val_sets = _load_all(vals, fmt, images, "val") if vals else []
    digest, val_digest = data_digest(train_sets, 0), data_digest(val_sets, 0)
    if resume:  # before any image is decoded
        _check_resumed_multibox_data(out, gts, vals, digest, val_digest)
    train = samples_of(train_sets, "train", sample_size(mb, cfg))
    val = samples_of(val_sets, "val", mb.input_size) if vals else []
    if not train:
        raise click.ClickException("no training image could be read")

    def progress(batches, epoch):
        return tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=None, leave=False)

    def init_fn(model):
        try:
            init_trunk(model, init, trunk)
        except CheckpointError as e:
            raise click.ClickException(str(e)) from None

    if val and cfg.val_top_k >= len(priors):  # trial 34: accepted without a word
        _echo(f"note: --val-top {cfg.val_top_k} counts every box of the K = {len(priors)}: the ranking of the boxes "
              f"does not count in picking the best epoch (give fewer than {k_from})", err=True)
    world = distributed.world_size()
    on = f"{world} processes ({dev.type}), {world * cfg.batch_size} images per iteration in all" if world > 1 else dev
    _echo(f"training MultiBox {out}: {count(len(train), 'image')}, K={len(priors)}, {mb.input_size}px width "
          f"{mb.width}, {count(cfg.epochs, 'epoch')} on {on}")
    def show(st):  # as each epoch ends
        r = st.history[-1]
        rec = (f"  val recall (top {min(cfg.val_top_k, len(priors))}) @0.5 {r['recall@0.5']:.3f}  @0.7 {r['recall@0.7']:.3f}"
               if "recall@0.5" in r else "")
        _echo(f"epoch {r['epoch']:>3}  loss {r['loss']:.4f}  {r['images_per_s']:.1f} img/s{rec}")

    # the trunk starts from --init only in a fresh run: a resumed one goes on from its own state (trial 53: a wrong
    # --init was said "not used", then read and refused after every image was decoded)
    state = train_multibox(train, priors, mb, cfg, out, val_samples=val, resume=resume, device=dev,
                           progress=progress,
                           metadata={"train_sets": [str(g) for g in gts], "val_sets": [str(v) for v in vals],
                                     "train_digest": digest, "val_digest": val_digest,
                                     "init": _recorded_init(init, out, resume),
                                     "priors_file": str(priors_file) if priors_file else None},
                           init=init_fn if trunk is not None else None, on_epoch_end=show)
    _echo(files_written(out, state))


def _check_resumed_multibox_data(out: Path, gts, vals, digest: str, val_digest: str) -> None:
    """Refuse to resume the MultiBox run writing ``out`` when its --gt or --val files say other things than when it
    was started (``data_digest`` of each, recorded in its state; trial 68: the paths alone were compared, so an
    edited --gt trained on and an edited --val's recall was compared with the earlier epochs' on the old boxes). A
    state recorded before digests were kept is not compared; other paths are :func:`resume_differences`'s."""
    sp = state_path(out)
    if not sp.is_file():
        return
    try:
        before = torch.load(sp, map_location="cpu", weights_only=True).get("train") or {}
    except Exception:  # noqa: BLE001 - an unreadable state: resuming it says what is wrong with it
        return
    changes = []
    for flag, key, paths, now in (("--gt", "train", gts, digest), ("--val", "val", vals, val_digest)):
        if before.get(f"{key}_digest", now) != now:
            was = before.get(f"{key}_sets") or []
            given = " ".join(map(str, paths)) or "(none)"
            changes.append(setting_change(flag, given, " ".join(was) or "(none)") +
                           f":{_edited_since(was, list(paths))} other images, boxes or classes")
    if changes:
        raise click.ClickException(refused_resume(out, changes, what="data", may_change="--epochs"))


from .distill_cmd import distill_cmd  # noqa: E402 - the group above must exist first

train_group.add_command(distill_cmd)
