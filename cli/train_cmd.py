"""``detect train``: region classifiers (one member or an ensemble).

Every command here also runs under ``torchrun`` (data-parallel, :mod:`detector.nn.distributed`): the ranks share the
selective search, training and validation; rank 0 alone prints and writes files.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from detector.nn import distributed
from detector.classifier import (
    ARCHS,
    CHECKPOINT_FORMAT,
    MODES,
    CheckpointError,
    ClassifierSpec,
    load_init_weights,
    read_checkpoint,
)
from detector.data import Dataset
from detector.data.vocab import ilsvrc_categories
from detector.nn.device import resolve_device
from detector.pipeline import Detector, PostprocessConfig
from detector.nn.loop import last_path, log_path, state_path
from detector.train import TrainConfig, build_class_list, check_resume_spec, prepare_images, train_classifier
from eval import evaluate
from eval.predictions import AlignedPredictions
from proposals.cache import ProposalCache
from proposals.selective_search import SelectiveSearchConfig, selective_search_many

from .common import format_option, images_option, load_dataset


@click.group("train")
def train_group():
    """Train region classifiers, ensembles of them, and MultiBox proposal networks (and their priors)."""


def _common_options(f):
    opts = [
        click.option("--gt", "gts", multiple=True, required=True, type=click.Path(exists=True, path_type=Path),
                     help="Training ground truth (any format `detect inspect` reads); repeat to combine datasets."),
        images_option,
        format_option,
        click.option("--val", "vals", multiple=True, type=click.Path(exists=True, path_type=Path),
                     help="Validation ground truth (repeatable); its ILSVRC-metric mAP picks the best checkpoint."),
        click.option("--arch", type=click.Choice(ARCHS), default="paper-bn", show_default=True,
                     help="paper: Table 1; paper-bn: with BatchNorm (trains from scratch); torchvision: its "
                          "googlenet (for --init ImageNet weights)."),
        click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="Weights to start from: a model file of ours (either --mode; same --arch and --width; "
                          "the classifier is kept only for the same classes) or torchvision googlenet ImageNet "
                          "weights (.pth, --arch torchvision)."),
        click.option("--mode", type=click.Choice(MODES), default="crops", show_default=True,
                     help="crops: each region warped and run through the whole network (the paper, R-CNN); fast: "
                          "one pass per image to inception 4e, region features pooled from it (Fast R-CNN). "
                          "Recorded in the model; `detect run` follows it."),
        click.option("--fast-short-side", type=click.IntRange(min=32), default=ClassifierSpec.fast_short_side,
                     show_default=True, help="--mode fast: images resized to this short side (Fast R-CNN: 600) …"),
        click.option("--fast-max-side", type=click.IntRange(min=32), default=ClassifierSpec.fast_max_side,
                     show_default=True, help="… unless the long side would pass this (Fast R-CNN: 1000)."),
        click.option("--input-size", type=click.IntRange(min=96), default=224, show_default=True,
                     help="Region size in pixels (the paper: 224)."),
        click.option("--width", type=click.FloatRange(min=0.05, max=4), default=1.0, show_default=True,
                     help="Channel multiplier of the paper architectures (1 = Table 1)."),
        click.option("--epochs", type=click.IntRange(min=1), default=TrainConfig.epochs, show_default=True),
        click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True,
                     help="Regions per mini-batch (R-CNN: 128), drawn 16 per image."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=TrainConfig.lr, show_default=True),
        click.option("--lr-step-epochs", type=click.IntRange(min=1), default=TrainConfig.lr_step_epochs,
                     show_default=True, help="Epochs between 4 % learning-rate drops (the paper: 8)."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--bbox-reg/--no-bbox-reg", default=False, show_default=True,
                     help="Also train class-specific box regression (R-CNN's refinement)."),
        click.option("--workers", type=click.IntRange(min=0), default=1, show_default=True,
                     help="Data-loading processes (also used for selective search)."),
        click.option("--threads", type=click.IntRange(min=0), default=0, help="torch threads (0: torch's default)."),
        click.option("--val-every", type=click.IntRange(min=0), default=TrainConfig.val_every, show_default=True,
                     help="Epochs between validation runs."),
        click.option("--ss-scale", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
                     help="Selective search superpixel scale for training proposals (as `detect run`)."),
        click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Proposal cache folder."),
        click.option("--half", is_flag=True, help="Store weights as float16 (half the file size)."),
        click.option("--classes", "class_set", type=click.Choice(["all", "ilsvrc"]), default="all",
                     show_default=True,
                     help="all: every class with boxes; ilsvrc: only classes of the ILSVRC 200 (others are "
                          "neither learned nor used as background)."),
        click.option("--resume", is_flag=True, help="Continue a stopped run from its <stem>.state.ckpt."),
        click.option("--gt-partial", "partial_gts", multiple=True, type=click.Path(exists=True, path_type=Path),
                     help="Training ground truth whose labels are not exhaustive (objects without a box exist, as in "
                          "Open Images): only its labelled objects are sampled, never its background; repeatable."),
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


def _proposals(datasets, ss_config, cache, workers, desc):
    paths = [im.path for ds in datasets for im in ds.images]
    todo = [str(p) for p in paths if p is not None]
    rank, world = distributed.rank(), distributed.world_size()
    mine = todo[rank::world]  # under torchrun each rank searches every W-th image, then all share the results
    done = list(tqdm(selective_search_many(mine, ss_config, workers=workers, cache=cache), total=len(mine),
                     desc=desc, unit="img", disable=None if rank == 0 else True))
    shards = distributed.all_gather_object(done)
    results = iter([shards[j % world][j // world] for j in range(len(todo))])
    out = []
    for p in paths:
        if p is None:
            out.append(None)
            continue
        r = next(results)
        if not r.ok:
            _echo(f"warning: {r.error} (image left out)", err=True)
        out.append(r.boxes if r.ok else None)
    return out


def _load_all(paths, fmt, images) -> list[Dataset]:
    out = []
    for p in paths:
        ds = load_dataset(p, fmt, images=images)
        missing = sum(im.path is None for im in ds.images)
        if missing:
            _echo(f"warning: {missing} of {len(ds)} images of {p} have no image file (left out); "
                  "pass --images DIR if they are elsewhere", err=True)
        out.append(ds)
    return out


def _validator(val_sets, val_props, max_proposals, device):
    """validate(member) → ILSVRC-metric mAP over the validation images (proposals precomputed). Under torchrun
    every rank detects on every W-th image and all evaluate the gathered detections."""
    if not val_sets:
        return None
    props_of = {id(im): props for ds, props_ds in zip(val_sets, val_props) for im, props in zip(ds.images, props_ds)
                if im.path is not None and props is not None}

    def validate(member):
        from detector.data.images import load_image

        det = Detector(None, [member], PostprocessConfig(score_threshold=0.01), batch_size=128,
                       max_proposals=max_proposals, device=device)
        m_ap = []
        rank, world = distributed.rank(), distributed.world_size()
        for ds in val_sets:
            idx, lab, sc, bx = [], [], [], []
            class_by_key = {c.key: k for k, c in enumerate(ds.classes)}
            to_gt = np.array([class_by_key.get(c.key, -1) for c in member.classes], dtype=np.int64)
            for i, im in enumerate(ds.images):
                if id(im) not in props_of or i % world != rank:
                    continue
                d = det.detect(load_image(im.path), proposals=props_of[id(im)])
                gl = to_gt[d.labels - 1]
                keep = gl >= 0
                idx += [i] * int(keep.sum())
                lab += gl[keep].tolist()
                sc += d.scores[keep].tolist()
                bx += d.boxes[keep].tolist()
            gathered = distributed.all_gather_object((idx, lab, sc, bx))  # one (idx, lab, sc, bx) per rank
            idx, lab, sc, bx = ([x for one in part for x in one] for part in zip(*gathered))
            order = np.argsort(np.array(idx, np.int64), kind="stable")  # image order, as one process makes it
            preds = AlignedPredictions(np.array(idx, np.int64)[order], np.array(lab, np.int64)[order],
                                       np.array(sc, np.float64)[order], np.array(bx, np.float32).reshape(-1, 4)[order])
            # only the classes the model knows count: a model of persons is not judged on VOC's bottles
            learnable = {class_by_key[c.key] for c in member.classes if c.key in class_by_key}
            r = evaluate(ds, preds, "ilsvrc")
            aps = [c.ap for c in r.per_class if c.ap is not None and ds.classes.index(c.category) in learnable]
            m_ap.append(float(np.mean(aps)) if aps else 0.0)
        return float(np.mean(m_ap))

    return validate


def _class_map_of(init) -> str:
    """The class map of an --init model file of ours ("" for none, torchvision weights and other files)."""
    if init is None:
        return ""
    try:
        ckpt = read_checkpoint(init, CHECKPOINT_FORMAT)
    except CheckpointError:
        return ""
    return str((ckpt.get("spec") or {}).get("class_map") or "")


def _train_one(out, seed, gts, images, fmt, vals, arch, init, input_size, width, epochs, batch_size, lr,
               lr_step_epochs, device, bbox_reg, workers, threads, val_every, ss_scale, cache_dir, half, resume,
               class_set="all", extra_meta=None, mode="crops", fast_short_side=600, fast_max_side=1000,
               partial_gts=(), class_map="auto"):
    dev = distributed.init(resolve_device(device))  # under torchrun: join the group (once), this rank's device
    train_sets = _load_all(tuple(gts) + tuple(partial_gts), fmt, images)
    exhaustive = [True] * len(gts) + [False] * len(partial_gts)
    val_sets = _load_all(vals, fmt, images) if vals else []
    class_map = _class_map_of(init) if class_map == "auto" else ("" if class_map == "none" else class_map)
    # a mapped head scores every ILSVRC DET class (through the ImageNet leaves), whatever the data holds
    classes = ilsvrc_categories() if class_map else build_class_list(train_sets, ilsvrc_only=class_set == "ilsvrc")
    if not classes:
        raise click.ClickException("the training data has no boxes")
    ss_config = SelectiveSearchConfig(scale=ss_scale)
    cache = ProposalCache(cache_dir)
    train_props = _proposals(train_sets, ss_config, cache, workers, "proposals (train)")
    val_props = [_proposals([ds], ss_config, cache, workers, "proposals (val)") for ds in val_sets]
    train_images = prepare_images(train_sets, classes, train_props, exhaustive)
    if not train_images:
        raise click.ClickException("no training image could be read")
    try:  # fast mode has no auxiliary heads (they read per-region maps)
        spec = ClassifierSpec(arch=arch, num_classes=1000 if class_map else len(classes) + 1, input_size=input_size,
                              width=width, bbox_reg=bbox_reg, aux_logits=mode == "crops", mode=mode,
                              fast_short_side=fast_short_side, fast_max_side=fast_max_side, class_map=class_map)
        if resume and state_path(out).is_file():
            check_resume_spec(out, spec)
    except (ValueError, CheckpointError) as e:
        raise click.ClickException(str(e)) from None
    per_image = 16
    config = TrainConfig(epochs=epochs, images_per_batch=max(1, batch_size // per_image),
                         regions_per_image=min(per_image, batch_size), lr=lr, lr_step_epochs=lr_step_epochs,
                         seed=seed, workers=workers, val_every=val_every, threads=threads)
    init_fn = None
    if init is not None:
        def init_fn(model):
            try:
                load_init_weights(model, spec, init, classes)
            except CheckpointError as e:
                raise click.ClickException(str(e)) from None

    def progress(loader, epoch):
        return tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", disable=None, leave=False)

    world = distributed.world_size()
    on = f"{world} processes ({dev.type}), {world * config.images_per_batch * config.regions_per_image} regions " \
        "per iteration in all" if world > 1 else str(dev)
    _echo(f"training {out}: {len(train_images)} images, {len(classes)} classes, {spec.arch} "
          f"{spec.input_size}px width {spec.width} {spec.mode} mode, {epochs} epochs on {on}")
    meta = {"name": out.stem, "train_sets": [str(g) for g in gts], "partial_sets": [str(g) for g in partial_gts],
            "val_sets": [str(v) for v in vals], "init": str(init) if init else None,
            "selective_search": {"scale": ss_scale}, **(extra_meta or {})}
    state = train_classifier(train_images, classes, spec, config, out, init=init_fn,
                             validate=_validator(val_sets, val_props, config.max_val_proposals, dev), resume=resume,
                             device=dev, progress=progress, metadata=meta, half=half)
    for rec in state.history:
        extra = f"  val mAP {rec['val_mAP']:.4f}" if "val_mAP" in rec else ""
        _echo(f"epoch {rec['epoch']:>3}  loss {rec['loss']:.4f}  {rec['regions_per_s']:.0f} regions/s{extra}")
    _echo(f"wrote {out} (best), {last_path(out)}, log {log_path(out)}")
    return state


@train_group.command("classifier")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Model file to write (best checkpoint); <stem>.last.ckpt, <stem>.state.ckpt (for --resume) and "
                   "<stem>.log.jsonl beside it.")
@_common_options
def train_classifier_cmd(out, gts, images, fmt, vals, arch, init, input_size, width, epochs, batch_size, lr,
                         lr_step_epochs, seed, device, bbox_reg, workers, threads, val_every, ss_scale, cache_dir,
                         half, class_set, resume, mode, fast_short_side, fast_max_side, partial_gts, class_map):
    """R-CNN fine-tuning of one GoogLeNet region classifier on warped proposal regions (25 % foreground at
    IoU >= 0.5, background at IoU in [0.1, 0.5)), SGD momentum 0.9, the paper's step schedule after a warm-up.

    Data-parallel under torchrun: each of W processes trains on its share of the images, BATCH_SIZE regions per
    process per iteration (W × BATCH_SIZE in all; --lr is not rescaled)."""
    try:
        _train_one(out, seed, gts, images, fmt, vals, arch, init, input_size, width, epochs, batch_size, lr,
                   lr_step_epochs, device, bbox_reg, workers, threads, val_every, ss_scale, cache_dir, half, resume,
                   class_set, mode=mode, fast_short_side=fast_short_side, fast_max_side=fast_max_side,
                   partial_gts=partial_gts, class_map=class_map)
    finally:
        distributed.cleanup()


@train_group.command("ensemble")
@click.option("--members", type=click.IntRange(min=1), default=3, show_default=True,
              help="Members to train (the paper: 6); they differ only in seed and sampling order.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write member0.pt … (load it with `detect run --model DIR`).")
@_common_options
def train_ensemble_cmd(members, out, gts, images, fmt, vals, arch, init, input_size, width, epochs, batch_size, lr,
                       lr_step_epochs, seed, device, bbox_reg, workers, threads, val_every, ss_scale, cache_dir,
                       half, class_set, resume, mode, fast_short_side, fast_max_side, partial_gts, class_map):
    """Train an ensemble: MEMBERS classifiers that differ only in seed and sampling order, as in the paper.
    Under torchrun all processes train each member together, one member after another."""
    out.mkdir(parents=True, exist_ok=True)
    summary = []
    try:
        distributed.init(resolve_device(device))  # before the first line is printed: rank 0 alone prints
        for k in range(members):
            _echo(f"— member {k + 1}/{members} (seed {seed + k})")
            st = _train_one(out / f"member{k}.pt", seed + k, gts, images, fmt, vals, arch, init, input_size, width,
                            epochs, batch_size, lr, lr_step_epochs, device, bbox_reg, workers, threads, val_every,
                            ss_scale, cache_dir, half, resume, class_set, extra_meta={"ensemble_member": k},
                            mode=mode, fast_short_side=fast_short_side, fast_max_side=fast_max_side,
                            partial_gts=partial_gts, class_map=class_map)
            summary.append({"member": k, "seed": seed + k,
                            "best_val_mAP": st.best if st.best >= 0 else None})
        if distributed.is_main():
            (out / "ensemble.json").write_text(json.dumps({"members": summary}, indent=1) + "\n")
            click.echo(f"wrote {members} members to {out}")
    finally:
        distributed.cleanup()


@train_group.command("priors")
@click.option("--gt", "gts", multiple=True, required=True, type=click.Path(exists=True, path_type=Path),
              help="Ground truth whose boxes are clustered (repeatable).")
@format_option
@click.option("-k", "--num-priors", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Text file: one prior per line, normalised x1 y1 x2 y2.")
@click.option("--seed", type=int, default=0, show_default=True)
def train_priors_cmd(gts, fmt, num_priors, out, seed):
    """MultiBox priors: k-means centres of ground-truth boxes normalised by their image size."""
    from proposals.multibox import kmeans_priors

    boxes = []
    for g in gts:
        ds = load_dataset(g, fmt)
        for im in ds.images:
            if im.width and im.height and len(im):
                boxes.append(np.clip(np.asarray(im.boxes, np.float32) / np.array([im.width, im.height, im.width,
                                                                                   im.height], np.float32), 0, 1))
    if not boxes:
        raise click.ClickException("no boxes to cluster")
    b = np.concatenate(boxes)
    click.echo(f"k-means of {len(b)} boxes into {num_priors} priors …")
    priors = kmeans_priors(b, num_priors, seed=seed)
    header = (f"MultiBox priors: k-means (k={num_priors}, seed {seed}) of {len(b)} boxes normalised xyxy, from "
              f"{', '.join(Path(g).name for g in gts)}; largest cluster first.\n"
              f"made by: detect train priors --gt {' --gt '.join(str(g) for g in gts)} -k {num_priors} --out {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(out, priors, fmt="%.5f", header=header)
    click.echo(f"wrote {out}")


@train_group.command("multibox")
@click.option("--gt", "gts", multiple=True, required=True, type=click.Path(exists=True, path_type=Path),
              help="Training ground truth (repeatable).")
@images_option
@format_option
@click.option("--val", "vals", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Validation ground truth: recall of the top boxes printed per epoch; picks the best epoch.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Model file; <stem>.state.ckpt (for --resume) and <stem>.log.jsonl beside it.")
@click.option("--priors", "priors_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Priors text file (default: the shipped k-means priors for -k).")
@click.option("-k", "--num-priors", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--input-size", type=click.IntRange(min=96), default=224, show_default=True)
@click.option("--width", type=click.FloatRange(min=0.05, max=4), default=1.0, show_default=True,
              help="Channel multiplier of the Inception trunk.")
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=0.02, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--resume", is_flag=True, help="Continue a stopped run from its state file.")
@click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Start the Inception trunk from a region-classifier model file of ours with the same --width "
                   "(e.g. the distilled trunk of `detect train distill`).")
def train_multibox_cmd(gts, images, fmt, vals, out, priors_path, num_priors, input_size, width, epochs,
                       batch_size, lr, seed, device, resume, init):
    """Train a MultiBox proposal network (Hungarian matching, logistic confidence + α·L2 location loss).

    Data-parallel under torchrun: BATCH_SIZE images per process per iteration (--lr is not rescaled)."""
    try:
        _train_multibox(gts, images, fmt, vals, out, priors_path, num_priors, input_size, width, epochs, batch_size,
                        lr, seed, distributed.init(resolve_device(device)), resume, init)
    finally:
        distributed.cleanup()


def _train_multibox(gts, images, fmt, vals, out, priors_path, num_priors, input_size, width, epochs, batch_size,
                    lr, seed, dev, resume, init=None):
    from proposals.multibox import MultiBoxConfig, init_trunk, load_default_priors
    from proposals.multibox_train import MultiBoxTrainConfig, prepare_samples, train_multibox

    priors = np.loadtxt(priors_path, dtype=np.float32, ndmin=2) if priors_path else load_default_priors(num_priors)
    mb = MultiBoxConfig(num_priors=len(priors), input_size=input_size, width=width)
    cfg = MultiBoxTrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)

    def samples_of(paths, what):
        recs = [im for ds in _load_all(paths, fmt, images) for im in ds.images]
        s, skipped = prepare_samples(tqdm(recs, desc=f"loading {what}", unit="img",
                                          disable=None if distributed.is_main() else True), input_size)
        for msg in skipped[:5]:
            _echo(f"warning: {msg} (left out)", err=True)
        return s

    train = samples_of(gts, "train")
    val = samples_of(vals, "val") if vals else []
    if not train:
        raise click.ClickException("no training image could be read")

    def progress(batches, epoch):
        return tqdm(batches, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", disable=None, leave=False)

    world = distributed.world_size()
    on = f"{world} processes ({dev.type}), {world * batch_size} images per iteration in all" if world > 1 else dev
    _echo(f"training MultiBox {out}: {len(train)} images, K={len(priors)}, {input_size}px width {width}, "
          f"{epochs} epochs on {on}")
    def init_fn(model):
        try:
            init_trunk(model, init)
        except CheckpointError as e:
            raise click.ClickException(str(e)) from None

    st = train_multibox(train, priors, mb, cfg, out, val_samples=val, resume=resume, device=dev, progress=progress,
                        metadata={"train_sets": [str(g) for g in gts],
                                                     "val_sets": [str(v) for v in vals],
                                                     "init": str(init) if init else None},
                        init=init_fn if init is not None else None)
    for r in st.history:
        rec = f"  val recall@0.5 {r['recall@0.5']:.3f}  @0.7 {r['recall@0.7']:.3f}" if "recall@0.5" in r else ""
        _echo(f"epoch {r['epoch']:>3}  loss {r['loss']:.4f}  {r['images_per_s']:.1f} img/s{rec}")
    _echo(f"wrote {out}, log {log_path(out)}")


from .distill_cmd import distill_cmd  # noqa: E402 - the group above must exist first

train_group.add_command(distill_cmd)
