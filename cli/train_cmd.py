"""``detect train``: region classifiers (one member or an ensemble)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from detector.classifier import ARCHS, ClassifierSpec, CheckpointError, load_torchvision_weights
from detector.data import Dataset
from detector.pipeline import Detector, PostprocessConfig, resolve_device
from detector.train import TrainConfig, build_class_list, last_path, prepare_images, train_classifier
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
                     help="torchvision googlenet ImageNet weights (.pth) to start from (--arch torchvision)."),
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
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _proposals(datasets, ss_config, cache, workers, desc):
    paths = [im.path for ds in datasets for im in ds.images]
    todo = [str(p) for p in paths if p is not None]
    results = iter(tqdm(selective_search_many(todo, ss_config, workers=workers, cache=cache), total=len(todo),
                        desc=desc, unit="img", disable=None))
    out = []
    for p in paths:
        if p is None:
            out.append(None)
            continue
        r = next(results)
        if not r.ok:
            click.echo(f"warning: {r.error} (image left out)", err=True)
        out.append(r.boxes if r.ok else None)
    return out


def _load_all(paths, fmt, images) -> list[Dataset]:
    out = []
    for p in paths:
        ds = load_dataset(p, fmt, images=images)
        missing = sum(im.path is None for im in ds.images)
        if missing:
            click.echo(f"warning: {missing} of {len(ds)} images of {p} have no image file (left out); "
                       "pass --images DIR if they are elsewhere", err=True)
        out.append(ds)
    return out


def _validator(val_sets, val_props, max_proposals, device):
    """validate(member) → ILSVRC-metric mAP over the validation images (proposals precomputed)."""
    if not val_sets:
        return None
    props_of = {id(im): props for ds, props_ds in zip(val_sets, val_props) for im, props in zip(ds.images, props_ds)
                if im.path is not None and props is not None}

    def validate(member):
        from detector.data.images import load_image

        det = Detector(None, [member], PostprocessConfig(score_threshold=0.01), batch_size=128,
                       max_proposals=max_proposals, device=device)
        m_ap = []
        for ds in val_sets:
            idx, lab, sc, bx = [], [], [], []
            class_by_key = {c.key: k for k, c in enumerate(ds.classes)}
            to_gt = np.array([class_by_key.get(c.key, -1) for c in member.classes], dtype=np.int64)
            for i, im in enumerate(ds.images):
                if id(im) not in props_of:
                    continue
                d = det.detect(load_image(im.path), proposals=props_of[id(im)])
                gl = to_gt[d.labels - 1]
                keep = gl >= 0
                idx += [i] * int(keep.sum())
                lab += gl[keep].tolist()
                sc += d.scores[keep].tolist()
                bx += d.boxes[keep].tolist()
            preds = AlignedPredictions(np.array(idx, np.int64), np.array(lab, np.int64), np.array(sc, np.float64),
                                       np.array(bx, np.float32).reshape(-1, 4))
            # only the classes the model knows count: a model of persons is not judged on VOC's bottles
            learnable = {class_by_key[c.key] for c in member.classes if c.key in class_by_key}
            r = evaluate(ds, preds, "ilsvrc")
            aps = [c.ap for c in r.per_class if c.ap is not None and ds.classes.index(c.category) in learnable]
            m_ap.append(float(np.mean(aps)) if aps else 0.0)
        return float(np.mean(m_ap))

    return validate


def _train_one(out, seed, gts, images, fmt, vals, arch, init, input_size, width, epochs, batch_size, lr,
               lr_step_epochs, device, bbox_reg, workers, threads, val_every, ss_scale, cache_dir, half, resume,
               class_set="all", extra_meta=None):
    dev = resolve_device(device)
    train_sets = _load_all(gts, fmt, images)
    val_sets = _load_all(vals, fmt, images) if vals else []
    classes = build_class_list(train_sets, ilsvrc_only=class_set == "ilsvrc")
    if not classes:
        raise click.ClickException("the training data has no boxes")
    ss_config = SelectiveSearchConfig(scale=ss_scale)
    cache = ProposalCache(cache_dir)
    train_props = _proposals(train_sets, ss_config, cache, max(workers, 1), "proposals (train)")
    val_props = [_proposals([ds], ss_config, cache, max(workers, 1), "proposals (val)") for ds in val_sets]
    train_images = prepare_images(train_sets, classes, train_props)
    if not train_images:
        raise click.ClickException("no training image could be read")
    spec = ClassifierSpec(arch=arch, num_classes=len(classes) + 1, input_size=input_size, width=width,
                          bbox_reg=bbox_reg)
    per_image = 16
    config = TrainConfig(epochs=epochs, images_per_batch=max(1, batch_size // per_image),
                         regions_per_image=min(per_image, batch_size), lr=lr, lr_step_epochs=lr_step_epochs,
                         seed=seed, workers=workers, val_every=val_every, threads=threads)
    init_fn = None
    if init is not None:
        def init_fn(model):
            try:
                load_torchvision_weights(model, init)
            except CheckpointError as e:
                raise click.ClickException(str(e)) from None

    def progress(loader, epoch):
        return tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", disable=None, leave=False)

    log_path = out.with_suffix(".log.jsonl")
    if not resume and log_path.exists():
        log_path.unlink()
    click.echo(f"training {out}: {len(train_images)} images, {len(classes)} classes, {spec.arch} "
               f"{spec.input_size}px width {spec.width}, {epochs} epochs on {dev}")
    meta = {"name": out.stem, "train_sets": [str(g) for g in gts], "val_sets": [str(v) for v in vals],
            "selective_search": {"scale": ss_scale}, **(extra_meta or {})}
    state = train_classifier(train_images, classes, spec, config, out, init=init_fn,
                             validate=_validator(val_sets, val_props, config.max_val_proposals, dev), resume=resume,
                             device=dev, progress=progress, log_path=log_path, metadata=meta, half=half)
    for rec in state.history:
        extra = f"  val mAP {rec['val_mAP']:.4f}" if "val_mAP" in rec else ""
        click.echo(f"epoch {rec['epoch']:>3}  loss {rec['loss']:.4f}  {rec['regions_per_s']:.0f} regions/s{extra}")
    click.echo(f"wrote {out} (best), {last_path(out)}, log {log_path}")
    return state


@train_group.command("classifier")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Model file to write (best checkpoint); <stem>.last.ckpt, <stem>.state.ckpt (for --resume) and "
                   "<stem>.log.jsonl beside it.")
@_common_options
def train_classifier_cmd(out, gts, images, fmt, vals, arch, init, input_size, width, epochs, batch_size, lr,
                         lr_step_epochs, seed, device, bbox_reg, workers, threads, val_every, ss_scale, cache_dir,
                         half, class_set, resume):
    """R-CNN fine-tuning of one GoogLeNet region classifier on warped proposal regions (25 % foreground at
    IoU >= 0.5, background at IoU in [0.1, 0.5)), SGD momentum 0.9, the paper's step schedule after a warm-up."""
    _train_one(out, seed, gts, images, fmt, vals, arch, init, input_size, width, epochs, batch_size, lr,
               lr_step_epochs, device, bbox_reg, workers, threads, val_every, ss_scale, cache_dir, half, resume,
               class_set)


@train_group.command("ensemble")
@click.option("--members", type=click.IntRange(min=1), default=3, show_default=True,
              help="Members to train (the paper: 6); they differ only in seed and sampling order.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write member0.pt … (load it with `detect run --model DIR`).")
@_common_options
def train_ensemble_cmd(members, out, gts, images, fmt, vals, arch, init, input_size, width, epochs, batch_size, lr,
                       lr_step_epochs, seed, device, bbox_reg, workers, threads, val_every, ss_scale, cache_dir,
                       half, class_set, resume):
    """Train an ensemble: MEMBERS classifiers that differ only in seed and sampling order, as in the paper."""
    out.mkdir(parents=True, exist_ok=True)
    summary = []
    for k in range(members):
        click.echo(f"— member {k + 1}/{members} (seed {seed + k})")
        st = _train_one(out / f"member{k}.pt", seed + k, gts, images, fmt, vals, arch, init, input_size, width,
                        epochs, batch_size, lr, lr_step_epochs, device, bbox_reg, workers, threads, val_every,
                        ss_scale, cache_dir, half, resume, class_set, extra_meta={"ensemble_member": k})
        summary.append({"member": k, "seed": seed + k, "best_val_mAP": st.best_map if st.best_map >= 0 else None})
    (out / "ensemble.json").write_text(json.dumps({"members": summary}, indent=1) + "\n")
    click.echo(f"wrote {members} members to {out}")


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
                boxes.append(np.clip(im.boxes / np.array([im.width, im.height, im.width, im.height],
                                                         np.float32), 0, 1))
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
def train_multibox_cmd(gts, images, fmt, vals, out, priors_path, num_priors, input_size, width, epochs,
                       batch_size, lr, seed, device, resume):
    """Train a MultiBox proposal network (Hungarian matching, logistic confidence + α·L2 location loss)."""
    from proposals.multibox import MultiBoxConfig, load_default_priors
    from proposals.multibox_train import MultiBoxTrainConfig, prepare_samples, train_multibox

    dev = resolve_device(device)
    priors = np.loadtxt(priors_path, dtype=np.float32, ndmin=2) if priors_path else load_default_priors(num_priors)
    mb = MultiBoxConfig(num_priors=len(priors), input_size=input_size, width=width)
    cfg = MultiBoxTrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)

    def samples_of(paths, what):
        recs = [im for ds in _load_all(paths, fmt, images) for im in ds.images]
        s, skipped = prepare_samples(tqdm(recs, desc=f"loading {what}", unit="img", disable=None), input_size)
        for msg in skipped[:5]:
            click.echo(f"warning: {msg} (left out)", err=True)
        return s

    train = samples_of(gts, "train")
    val = samples_of(vals, "val") if vals else []
    if not train:
        raise click.ClickException("no training image could be read")
    log_path = out.with_suffix(".log.jsonl")
    if not resume and log_path.exists():
        log_path.unlink()

    def progress(batches, epoch):
        return tqdm(batches, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", disable=None, leave=False)

    click.echo(f"training MultiBox {out}: {len(train)} images, K={len(priors)}, {input_size}px width {width}, "
               f"{epochs} epochs on {dev}")
    st = train_multibox(train, priors, mb, cfg, out, val_samples=val, resume=resume, device=dev, progress=progress,
                        log_path=log_path, metadata={"train_sets": [str(g) for g in gts],
                                                     "val_sets": [str(v) for v in vals]})
    for r in st.history:
        rec = f"  val recall@0.5 {r['recall@0.5']:.3f}  @0.7 {r['recall@0.7']:.3f}" if "recall@0.5" in r else ""
        click.echo(f"epoch {r['epoch']:>3}  loss {r['loss']:.4f}  {r['images_per_s']:.1f} img/s{rec}")
    click.echo(f"wrote {out}, log {log_path}")
