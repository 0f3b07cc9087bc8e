"""Training a MultiBox network on any annotated dataset, with exact resume and validation recall per epoch.

Images are decoded and resized once (uint8, in memory: the network's input, or twice it where training crops);
each epoch draws its order, random crops, flips and photometric distortion from ``(seed, epoch)``, and the global torch RNG is saved with the state, so a resumed
run continues exactly where it stopped.

Under ``torchrun`` (:mod:`detector.nn.distributed`) each of W processes takes every W-th image of the epoch's order
(with its own flips and distortions) and gradients are averaged (DistributedDataParallel): an iteration sees W ×
``batch_size`` images, the cosine schedule counts iterations as before. Rank 0 validates and writes the files.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torchvision.ops import nms

from detector.data.dataset import size_mismatch
from detector.data.images import load_image
from detector.data.io import same_paths
from detector.nn import distributed
from detector.nn.checkpoint import CheckpointError
from detector.nn.loop import LoopState, OptimConfig, Task, fit, state_path, stored_half
from detector.nn.transforms import normalize_image, photometric_distort, resize_square
from detector.nn.options import refused_resume, setting_change

from .multibox import MULTIBOX_FORMAT, MultiBox, MultiBoxConfig, multibox_loss, save_multibox
from .recall import recall_at

__all__ = ["MultiBoxTrainConfig", "MultiBoxSample", "sample_size", "prepare_samples", "random_crop", "train_multibox",
           "resume_differences", "check_resume_settings"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MultiBoxTrainConfig:
    epochs: int = 30
    batch_size: int = 16
    lr: float = 0.02  # SGD
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_iters: int = 30  # linear warm-up from lr / 10
    flip: bool = True
    photometric: bool = True
    # random crops (SSD's "sample a patch" augmentation, Liu et al. 2016: a patch of [0.1, 1] of the image, ratio
    # 1/2 to 2, objects kept whose centre falls inside): with probability crop_prob an image is replaced by a patch of
    # crop_min_area to all of its area (ours: 0.3; 1 = no crops), aspect 1/2 to 2, before it is resized to the input
    crop_min_area: float = 0.3
    crop_prob: float = 0.5
    seed: int = 0
    # recall of the top-k boxes (after NMS) on the validation images picks the best epoch: fewer than the K = 200
    # outputs, so that the confidences count — of all K, epochs that rank the boxes differently scored alike
    val_top_k: int = 50

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def optim(self) -> OptimConfig:
        """The optimiser and schedule of :func:`detector.nn.loop.fit`: SGD, cosine decay after a linear warm-up."""
        return OptimConfig(epochs=self.epochs, optimizer="sgd", lr=self.lr, momentum=self.momentum,
                           weight_decay=self.weight_decay, schedule="cosine", warmup_iters=self.warmup_iters,
                           seed=self.seed)


@dataclass(frozen=True, eq=False)
class MultiBoxSample:
    image: np.ndarray  # uint8 3 x S x S (resized whole image)
    boxes: np.ndarray  # float32 [G, 4] normalised xyxy
    difficult: np.ndarray | None = None  # bool [G]: VOC "difficult" — trained on, left out of validation recall


def sample_size(mb: MultiBoxConfig, config: MultiBoxTrainConfig | None = None) -> int:
    """Side of the stored training images: the network's input, or twice it when ``config`` crops (a patch of 0.3
    of the area then still holds about as many pixels as the input)."""
    return mb.input_size * (2 if config is not None and config.crop_min_area < 1 else 1)


def prepare_samples(records, size: int) -> tuple[list[MultiBoxSample], list[str]]:
    """Dataset images → samples resized to ``size`` x ``size`` (boxes normalised by the image size; training may
    store them larger than the input: :func:`sample_size`). Unreadable images, and those of another size than their
    annotation gives (:func:`detector.data.dataset.size_mismatch`: boxes in other pixels), are skipped and reported
    in the second list."""
    out, skipped = [], []
    for im in records:
        if im.path is None:
            skipped.append(f"{im.file_name}: no image file")
            continue
        try:
            arr = load_image(im.path)
        except ValueError as e:
            skipped.append(str(e))
            continue
        why = size_mismatch(im, (arr.shape[1], arr.shape[0]))
        if why is not None:  # boxes in other pixels (trial 32)
            skipped.append(why)
            continue
        t = torch.from_numpy(arr).permute(2, 0, 1).float()
        small = resize_square(t, size).round().clamp(0, 255).to(torch.uint8).numpy()
        keep = (im.boxes[:, 2] > im.boxes[:, 0]) & (im.boxes[:, 3] > im.boxes[:, 1]) & ~im.iscrowd
        scale = np.array([im.width, im.height, im.width, im.height], np.float32)
        out.append(MultiBoxSample(small, np.clip(im.boxes[keep] / scale, 0, 1).astype(np.float32),
                                  np.asarray(im.difficult, bool)[keep]))
    return out, skipped


def random_crop(boxes: np.ndarray, config: MultiBoxTrainConfig, rng: np.random.Generator
                ) -> tuple[np.ndarray | None, np.ndarray]:
    """A random patch (normalised xyxy, float64 [4]) and the boxes [G, 4] inside it (normalised to the patch): with
    probability ``config.crop_prob`` a patch of ``crop_min_area``–1 of the area, aspect 1/2–2, keeping the boxes
    whose centre falls inside, clipped (SSD's rule); up to 10 draws for a patch that keeps an object when there is
    one, else (or with probability 1 − ``crop_prob``) ``None`` and ``boxes`` unchanged."""
    if config.crop_min_area >= 1 or rng.random() >= config.crop_prob:
        return None, boxes
    for _ in range(10):
        area = rng.uniform(config.crop_min_area, 1.0)
        ratio = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
        w, h = np.sqrt(area * ratio), np.sqrt(area / ratio)
        if w > 1 or h > 1:
            continue
        x0, y0 = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        inside = (cx > x0) & (cx < x0 + w) & (cy > y0) & (cy < y0 + h)
        if len(boxes) and not inside.any():
            continue
        kept = (boxes[inside] - np.array([x0, y0, x0, y0])) / np.array([w, h, w, h])
        return np.array([x0, y0, x0 + w, y0 + h]), np.clip(kept, 0, 1).astype(np.float32)
    return None, boxes


def _batch(samples: Sequence[MultiBoxSample], idx, config: MultiBoxTrainConfig, mb: MultiBoxConfig,
           rng: np.random.Generator):
    imgs, gts = [], []
    for i in idx:
        s = samples[i]
        img = torch.from_numpy(s.image).float() / 255.0
        patch, b = random_crop(s.boxes, config, rng)
        if patch is not None:
            side = img.shape[-1]
            x0, y0, x1, y1 = (int(round(v * side)) for v in patch)
            img = img[:, y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]
        if img.shape[-1] != mb.input_size or img.shape[-2] != mb.input_size:
            img = resize_square(img, mb.input_size)
        b = b.copy()
        if config.photometric:  # trained without the saturation term
            img = photometric_distort(img, rng, max_value=1.0, saturation=False)
        if config.flip and rng.random() < 0.5:
            img = img.flip(-1)
            b = np.stack([1 - b[:, 2], b[:, 1], 1 - b[:, 0], b[:, 3]], axis=1) if len(b) else b
        imgs.append(normalize_image(img, mb.mean, mb.std))
        gts.append(torch.from_numpy(b))
    return torch.stack(imgs), gts


def evaluate_recall(model: MultiBox, samples: Sequence[MultiBoxSample], top_k: int, device) -> dict:
    """Recall at IoU 0.5 / 0.7 of the top-k boxes (after NMS) on resized samples, in normalised coordinates; VOC
    ``difficult`` objects left out, as ``detect proposals --gt`` and every evaluation leave them out."""
    model.eval()
    props, gts = [], []
    with torch.inference_mode():
        for s in samples:
            x = normalize_image(torch.from_numpy(s.image).to(device).float() / 255.0, model.config.mean,
                                model.config.std)
            loc, conf = model(x[None])
            b = loc[0].clamp(0, 1)
            keep = nms(b, torch.sigmoid(conf[0]), model.config.nms_iou)[:top_k]
            props.append(b[keep].cpu().numpy() * 1000)  # IoU is scale-free; avoid tiny numbers
            gts.append((s.boxes if s.difficult is None else s.boxes[~s.difficult]) * 1000)
    r = recall_at(gts, props, iou_thresholds=(0.5, 0.7), top_ns=(top_k,))
    return {"recall@0.5": float(r[(0.5, top_k)]), "recall@0.7": float(r[(0.7, top_k)])}


class _EpochBatches:
    """This rank's batches of one epoch: its share of the epoch's order, flips and distortions drawn in order from
    ``(seed, epoch)`` (and the rank, under torchrun)."""

    def __init__(self, samples, config: MultiBoxTrainConfig, mb: MultiBoxConfig, epoch: int, rank: int,
                 world: int):
        rng = np.random.default_rng([config.seed, epoch])
        order = rng.permutation(len(samples))
        if world > 1:  # this rank's share of the order, with its own flips and distortions
            order = np.array(distributed.shard(order.tolist(), rank, world))
            rng = np.random.default_rng([config.seed, epoch, 1, rank])
        self.samples, self.config, self.mb, self.rng = samples, config, mb, rng
        self.idx = [order[s : s + config.batch_size] for s in range(0, len(order), config.batch_size)]

    def __len__(self) -> int:
        return len(self.idx)

    def __iter__(self):
        for idx in self.idx:
            yield _batch(self.samples, idx, self.config, self.mb, self.rng)


def resume_differences(out, priors: np.ndarray, mb: MultiBoxConfig, config: MultiBoxTrainConfig,
                       train_sets=None, val_sets=None) -> list[str]:
    """What differs between the settings given now and those the stopped run writing ``out`` was started with (its
    state file records them), one ``--option value now, value in that run`` each (``field: …`` for a setting that is no
    option): the network's settings (``num_priors``,
    ``input_size``, ``width``, …), its priors, and every training setting but ``epochs`` (raising it trains on). []
    when there is no state file, or one that cannot be read (resuming it says what is wrong with it).
    ``train_sets``: the --gt paths given now, compared (resolved) with those the run recorded (None: not compared;
    trial 23: a resume with other --gt went on silently); ``val_sets`` the --val paths likewise (the best checkpoint
    compares each epoch's validation recall with the earlier ones'; trial 45: a resume without --val went on
    without validation, silently)."""
    sp = state_path(out)
    if not sp.is_file():
        return []
    try:
        ck = torch.load(sp, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any unreadable state: resuming it reports the error
        return []
    diff = []

    def compare(before, now: dict, skip=()):
        if isinstance(before, dict):
            diff.extend(setting_change(_OPTIONS.get(k, k + ":"), _shown(now[k]), _shown(before[k])) for k in now
                        if k in before and k not in skip and _comparable(before[k]) != _comparable(now[k]))

    compare(ck.get("config"), mb.to_dict())
    priors_file = (ck.get("train") or {}).get("priors_file")
    if priors_file:  # trial 45: "-k 200 now, 20 in that run", and -k 20 then had no shipped priors
        diff = [f"{d} (that run's priors: --priors {priors_file})" if d.startswith("-k ") else d for d in diff]
    was = ck.get("priors")
    if was is not None:
        was = np.asarray(was.float() if isinstance(was, torch.Tensor) else was, np.float32)
        now = np.asarray(priors, np.float32)
        if len(now) == len(was) and (was.shape != now.shape or not np.allclose(was, now, atol=1e-5)):
            diff.append("priors: other boxes now than in that run (--priors)")
    compare((ck.get("train") or {}).get("config"), config.to_dict(), skip=("epochs",))
    was_sets = (ck.get("train") or {}).get("train_sets")
    if train_sets is not None and isinstance(was_sets, list) and not same_paths(was_sets, train_sets):
        diff.append(setting_change("--gt", " ".join(map(str, train_sets)) or "(none)", " ".join(was_sets) or "(none)"))
    was_val = (ck.get("train") or {}).get("val_sets")
    if val_sets is not None and isinstance(was_val, list) and not same_paths(was_val, val_sets):
        diff.append(setting_change("--val", " ".join(map(str, val_sets)) or "(none)", " ".join(was_val) or "(none)"))
    return diff


# the settings `detect train multibox` takes as options, by those options' names (trial 23: "lr: 0.5 now"); the others
# (alpha, momentum, …) are named by their field, followed by a colon
_OPTIONS = {"num_priors": "-k", "input_size": "--input-size", "width": "--width", "batch_size": "--batch-size",
            "lr": "--lr", "seed": "--seed", "crop_min_area": "--crop-min-area", "val_top_k": "--val-top"}


def _comparable(v):
    return list(v) if isinstance(v, (tuple, list)) else v


def _shown(v) -> str:
    return ", ".join(map(str, v)) if isinstance(v, (tuple, list)) else str(v)


def check_resume_settings(out, priors: np.ndarray, mb: MultiBoxConfig, config: MultiBoxTrainConfig,
                          train_sets=None, val_sets=None) -> None:
    """Refuse (``CheckpointError``) to resume the run writing ``out`` with other settings than it was started with
    (:func:`resume_differences`): other network settings would not load its weights, and other training settings
    would record a run that never was."""
    diff = resume_differences(out, priors, mb, config, train_sets, val_sets)
    if diff:
        raise CheckpointError(refused_resume(out, diff, may_change="--epochs"))


def train_multibox(samples: Sequence[MultiBoxSample], priors: np.ndarray, mb: MultiBoxConfig,
                   config: MultiBoxTrainConfig, out, *, val_samples: Sequence[MultiBoxSample] = (),
                   resume: bool = False, device="cpu", progress: Callable | None = None,
                   metadata: dict | None = None,
                   on_epoch_end: Callable[[LoopState], None] | None = None,
                   init: Callable[[MultiBox], None] | None = None, half: bool = False) -> LoopState:
    """Train with :func:`detector.nn.loop.fit`; write ``out`` (best validation recall@0.5, or the last without
    validation), the resume state ``<stem>.state.ckpt`` every epoch (a MultiBox file with the optimiser, RNG and
    history added; :func:`proposals.multibox.load_multibox` refuses it, saying what it is), and one JSON line per epoch
    to ``<stem>.log.jsonl``. ``on_epoch_end`` is called once everything
    of an epoch is on disk. ``init(model)`` runs on the new network before training (e.g.
    :func:`proposals.multibox.init_trunk`). ``half``: ``out`` stores float16 weights
    (:func:`detector.nn.loop.stored_half`). In a process group of W > 1 (``torchrun``) every rank calls this with its
    own ``device``; rank 0 alone validates, shows ``progress`` and writes."""
    out = Path(out)
    device = torch.device(device)
    torch.manual_seed(config.seed)
    model = MultiBox(mb, priors)
    if init is not None:
        init(model)
    if device.type == "cpu":  # PyTorch's CPU convolutions and pooling are faster in it (a step on 32 images at 160 px,
        # width 0.5: 1.7-1.8x, measured)
        model.to(memory_format=torch.channels_last)

    def loss(net, batch, dev):
        x, gts = batch
        loc, logits = net(x.to(dev))
        return multibox_loss(loc, logits, [g.to(dev) for g in gts], mb.alpha)

    def save(m, path, meta):
        save_multibox(path, m, train=meta, half=stored_half(path, out, half))

    def validate(m) -> dict:  # rank 0 validates alone; the loop broadcasts its answer
        if distributed.is_main():
            return evaluate_recall(m, val_samples, config.val_top_k, device)
        return {"recall@0.5": 0.0, "recall@0.7": 0.0}

    def state_extra(m) -> dict:  # a MultiBox file's fields too (load_multibox names it as a resume state)
        return {"format": MULTIBOX_FORMAT, "config": m.config.to_dict(), "priors": m.priors.detach().cpu().clone(),
                "train": {"config": config.to_dict(), **(metadata or {})}}

    task = Task(batches=lambda epoch, rank, world: _EpochBatches(samples, config, mb, epoch, rank, world),
                loss=loss, save=save, validate=validate if val_samples else None, score_key="recall@0.5",
                examples=lambda batch: len(batch[1]), examples_name="images_per_s", state_key="state_dict",
                state_extra=state_extra, name="multibox")
    return fit(model, task, config.optim, out, resume=resume, device=device, amp=False, progress=progress,
               metadata={"config": config.to_dict(), **(metadata or {})}, on_epoch_end=on_epoch_end,
               check_resume=lambda _last: check_resume_settings(out, priors, mb, config))
