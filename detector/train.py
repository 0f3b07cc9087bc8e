"""R-CNN fine-tuning of a region classifier: its proposals (selective search), region sampling, the data pipeline and
loss plugged into the one training loop (:func:`detector.nn.loop.fit`, exact resume), and validation by detection
(:func:`make_validator`, through the per-image step of ``detect run``).

Shapes: I images, R proposals of an image, B regions per mini-batch (``images_per_batch`` × ``regions_per_image``),
K = C + 1 classes (label 0 = background), S input size.

Randomness is derived from ``(seed, epoch, image)`` only — never from worker scheduling — and the global torch RNG
(dropout) is saved with each epoch's state, so a run resumed from its state file ends exactly where the same run
without interruption would have.

Under ``torchrun`` (see :mod:`detector.nn.distributed`) each of the W processes takes every W-th image of the epoch's
order and gradients are averaged across them (DistributedDataParallel): one iteration then sees W ×
``images_per_batch`` images, an epoch has 1/W of the iterations, and the learning-rate schedule still counts
iterations (it is not rescaled). Rank 0 alone writes checkpoints and the log.
"""

from __future__ import annotations

import copy
import logging
import math
import random
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset as TorchDataset

from eval import evaluate
from eval.predictions import AlignedPredictions
from proposals.proposers import Proposed
from proposals.selective_search import SelectiveSearchConfig, selective_search_many

from .classifier import (
    CHECKPOINT_FORMAT,
    ClassifierSpec,
    ImageBatch,
    Member,
    RegionClassifier,
    build_classifier,
    read_spec,
    save_member,
)
from .data.boxes import box_ioa, box_iou
from .data.dataset import Dataset, size_mismatch
from .data.images import image_size, load_image
from .data.imagenet import leaf_matrix
from .nn.imagenet_map import mapped_log_likelihood
from .data.vocab import Category, ilsvrc_by_wnid
from .nn import distributed
from .nn.checkpoint import CheckpointError, read_checkpoint
from .nn.inception import GoogLeNetOutputs
from .nn.loop import LoopState, OptimConfig, Task, fit, last_path, state_path, stored_half
from .nn.transforms import normalize_image, photometric_distort, resize_short_side
from .nn.workers import shared_batch
from .nn.options import option_flag, refused_resume, setting_change
from .pipeline import BOX_WEIGHTS, Detector, PostprocessConfig, detect_each
from .regions import warp_regions

__all__ = ["TrainConfig", "TrainImage", "build_class_list", "prepare_images", "RegionBatches", "encode_deltas",
           "train_classifier", "collate_regions", "check_resume_spec", "make_validator", "VALIDATION_POSTPROCESS",
           "dataset_proposals"]

logger = logging.getLogger(__name__)

VALIDATION_POSTPROCESS = PostprocessConfig(score_threshold=0.01)  # low: AP reads the whole precision-recall curve
VALIDATION_BATCH = 128  # regions per CNN batch while validating (R-CNN's mini-batch size)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = OptimConfig.epochs
    images_per_batch: int = 8  # regions of a batch come from this many images (one warp_regions call each)
    regions_per_image: int = 16  # 8 × 16 = 128 regions per mini-batch (R-CNN: 128)
    fg_fraction: float = 0.25  # R-CNN: 32 foreground of 128
    fg_iou: float = 0.5  # R-CNN: IoU >= 0.5 with a ground-truth box is foreground (its class)
    bg_iou_low: float = 0.1  # Fast R-CNN: background windows have max IoU in [0.1, 0.5)
    hard_fraction: float = 0.5  # of an image's background regions, at most this share drawn from its hard negatives
    lr: float = OptimConfig.lr  # base learning rate (SGD); this and the four below: the paper's SGD (OptimConfig)
    momentum: float = OptimConfig.momentum
    weight_decay: float = OptimConfig.weight_decay
    lr_decay: float = OptimConfig.lr_decay
    lr_step_epochs: int = OptimConfig.lr_step_epochs
    warmup_iters: int = OptimConfig.warmup_iters
    schedule: str = OptimConfig.schedule  # step: the paper's; cosine: to 0 over the run (short runs end annealed)
    aux_weight: float = 0.3  # the paper: auxiliary losses weigh 0.3
    bbox_weight: float = 1.0  # box-regression loss weight (Fast R-CNN: 1)
    flip: bool = True  # horizontal flips
    photometric: bool = True  # brightness / contrast / saturation distortion
    seed: int = OptimConfig.seed
    workers: int = 1  # data-loading processes (0 = in the training process)
    val_every: int = 2  # epochs between validation mAP computations (0 = never)
    threads: int = 0  # torch.set_num_threads (0 = leave as is)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def optim(self) -> OptimConfig:
        """The optimiser and schedule of :func:`detector.nn.loop.fit`: SGD with the paper's step schedule (or a
        cosine decay)."""
        return OptimConfig(epochs=self.epochs, optimizer="sgd", lr=self.lr, momentum=self.momentum,
                           weight_decay=self.weight_decay, schedule=self.schedule, lr_decay=self.lr_decay,
                           lr_step_epochs=self.lr_step_epochs, warmup_iters=self.warmup_iters, seed=self.seed)


@dataclass(frozen=True, eq=False)
class TrainImage:
    """One training image, prepared: proposals labelled once, ground truth in model labels."""

    path: Path
    width: int
    height: int
    gt_boxes: np.ndarray  # float32 [G, 4]
    gt_labels: np.ndarray  # int64 [G] in 1..C (objects of classes the model does not learn are left out)
    ignore_boxes: np.ndarray  # float32 [Z, 4]: objects of other classes (never sampled as background)
    proposals: np.ndarray  # float32 [R, 4]
    exhaustive: bool = True  # False: unlabelled objects exist (Open Images): only foreground is sampled here
    hard_negatives: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))  # float32 [H, 4]:
    #   a model's detections on this image (``--hard-negatives``); those off every object are hard background


def build_class_list(datasets: Sequence[Dataset], *, ilsvrc_only: bool = False) -> tuple[Category, ...]:
    """The classes a model learns from ``datasets``: those with at least one box on an image whose file was found
    (a class seen only on missing images would be a class without a training box), ILSVRC classes first in det_id
    order, then classes without an ILSVRC equivalent by name (left out with ``ilsvrc_only``)."""
    seen: dict[str, Category] = {}
    for ds in datasets:
        for im in ds.images:
            if im.path is None:
                continue
            for lbl in np.unique(im.labels):
                c = ds.classes[int(lbl)]
                if c.key in seen or (ilsvrc_only and c.det_id is None):
                    continue
                # ILSVRC classes under their ILSVRC name (COCO "couch" → "sofa"); others as they are
                seen[c.key] = ilsvrc_by_wnid()[c.wnid] if c.det_id is not None else Category(c.name)
    cats = list(seen.values())
    return tuple(sorted(cats, key=lambda c: (c.det_id is None, c.det_id or 0, c.name)))


def dataset_proposals(datasets: Sequence[Dataset], search: SelectiveSearchConfig, *, cache=None, workers: int = 1,
                      progress: Callable | None = None) -> tuple[list[np.ndarray | None], list[str]]:
    """Selective-search boxes (float32 [R, 4] xyxy) of every image of ``datasets``, in order — None for an image
    without a file or whose search failed — and the failures' messages. R-CNN trains on selective-search
    proposals. Searched in ``workers`` processes through ``cache`` (:func:`proposals.selective_search
    .selective_search_many`); ``progress(results, total)`` may wrap the results (e.g. tqdm). Under ``torchrun`` each
    rank searches every W-th image, then all share the results. An image whose file has another size than its
    annotation gives (:func:`other_size`: its boxes are in other pixels) is such a failure, not searched."""
    images = [(ds, im) for ds in datasets for im in ds.images]
    sized = [other_size(ds, im) if im.path is not None else None for ds, im in images]
    paths = [im.path if why is None else None for (_, im), why in zip(images, sized)]
    todo = [str(p) for p in paths if p is not None]
    rank, world = distributed.rank(), distributed.world_size()
    mine = todo[rank::world]
    results = selective_search_many(mine, search, workers=workers, cache=cache)
    done = list(progress(results, len(mine)) if progress is not None else results)
    shards = distributed.all_gather_object(done)
    gathered = iter([shards[j % world][j // world] for j in range(len(todo))])
    boxes, errors = [], []
    for p, why in zip(paths, sized):
        if why is not None:
            errors.append(why)
        r = next(gathered) if p is not None else None
        if r is not None and not r.ok:
            errors.append(r.error)
        boxes.append(r.boxes if r is not None and r.ok else None)
    return boxes, errors


def other_size(ds: Dataset, im) -> str | None:
    """:func:`detector.data.dataset.size_mismatch` of the image ``im`` of ``ds`` (with a file) from its file's
    header: why its boxes are in other pixels than the file's, or None (also when the header cannot be read: the
    search then says why)."""
    try:
        size = image_size(im.path)
    except Exception:  # noqa: BLE001 - unreadable: the search reports it
        return None
    return size_mismatch(im, size, ds.source)


def prepare_images(datasets: Sequence[Dataset], classes: Sequence[Category], proposals: Sequence[np.ndarray],
                   exhaustive: Sequence[bool] | None = None,
                   hard_negatives: Sequence[np.ndarray | None] | None = None) -> list[TrainImage]:
    """Pair each annotated image (in dataset order) with its proposals; map labels to the model's 1..C. Images
    without a file are left out (the caller reports them). ``exhaustive[d]`` False: dataset ``d``'s labels are not
    exhaustive (objects without a box exist), so its images give foreground regions only, never background.
    ``hard_negatives``, in the order of ``proposals``: each image's detections by a model (float [H, 4] xyxy in the
    annotation's pixels, or None), candidates for hard background (:func:`sample_regions`)."""
    index = {c.key: k + 1 for k, c in enumerate(classes)}
    out = []
    i = 0
    for d, ds in enumerate(datasets):
        for im in ds.images:
            props = proposals[i]
            i += 1
            if im.path is None or props is None:
                continue
            keys = [ds.classes[int(lbl)].key for lbl in im.labels]
            model_labels = np.array([index.get(k, -1) for k in keys], dtype=np.int64)
            keep = (model_labels > 0) & ~im.iscrowd
            boxes = np.asarray(im.boxes, np.float32)  # read as float64 (for evaluation); networks work in float32
            if im.width > 0 and im.height > 0:  # the part inside the image, as detectron2 trains (the readers warn
                # of a box outside it); one wholly outside becomes empty and is left out below (trial 32)
                boxes = np.clip(boxes, 0, np.array([im.width, im.height, im.width, im.height], np.float32))
            valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            partial = exhaustive is not None and not exhaustive[d]
            if partial and not (keep & valid).any():
                continue  # nothing to learn from it: no labelled object of the model's classes, no background
            hard = hard_negatives[i - 1] if hard_negatives is not None else None
            out.append(TrainImage(Path(im.path), im.width, im.height, boxes[keep & valid],
                                  model_labels[keep & valid], boxes[~keep], np.asarray(props, np.float32),
                                  exhaustive=not partial,
                                  hard_negatives=np.asarray(hard if hard is not None else np.zeros((0, 4)),
                                                            np.float32).reshape(-1, 4)))
    return out


def encode_deltas(proposals: np.ndarray, gt: np.ndarray, weights=BOX_WEIGHTS) -> np.ndarray:
    """R-CNN box-regression targets (dx, dy, dw, dh) of ``gt`` relative to ``proposals`` (both [N, 4] xyxy)."""
    pw = np.maximum(proposals[:, 2] - proposals[:, 0], 1e-3)
    ph = np.maximum(proposals[:, 3] - proposals[:, 1], 1e-3)
    px, py = proposals[:, 0] + 0.5 * pw, proposals[:, 1] + 0.5 * ph
    gw = np.maximum(gt[:, 2] - gt[:, 0], 1e-3)
    gh = np.maximum(gt[:, 3] - gt[:, 1], 1e-3)
    gx, gy = gt[:, 0] + 0.5 * gw, gt[:, 1] + 0.5 * gh
    wx, wy, ww, wh = weights
    return np.stack([wx * (gx - px) / pw, wy * (gy - py) / ph, ww * np.log(gw / pw), wh * np.log(gh / ph)],
                    axis=1).astype(np.float32)


def sample_regions(im: TrainImage, n: int, config: TrainConfig, rng: np.random.Generator):
    """Choose ``n`` regions of one image: ``round(n * fg_fraction)`` foreground (proposals with IoU >=
    ``fg_iou`` with a ground-truth box, and the ground-truth boxes themselves; drawn with replacement when there
    are fewer) and the rest background (max IoU in [``bg_iou_low``, ``fg_iou``), or below when there are none;
    never overlapping an ignored object by IoU 0.5 (``fg_iou`` if lower), nor lying that much inside one, as a person
    inside a crowd region). Returns boxes [n, 4], labels [n],
    regression targets [n, 4] (zeros for background). An image whose labels are not exhaustive (``im.exhaustive`` False) gives its
    foreground share only (at least one region when it has foreground): its background may hold unlabelled
    objects.

    Hard negative mining (R-CNN's, here for the softmax): an image's ``hard_negatives`` — a model's detections on
    it — join the candidates; those under ``fg_iou`` with every object (whatever their IoU; never one that overlaps
    an ignored object by 0.5 or lies that much inside one, as inside a crowd region) are hard background,
    and up to ``round(hard_fraction × background share)`` of the background is drawn from them without
    replacement, the rest as above. A detection on an object is that object's foreground like any proposal."""
    cand = np.concatenate([im.gt_boxes, im.proposals]) if len(im.gt_boxes) else im.proposals
    n_hard_cand = len(im.hard_negatives)
    if n_hard_cand:
        cand = np.concatenate([cand, im.hard_negatives])
    if len(cand) == 0:
        cand = np.array([[0, 0, im.width, im.height]], np.float32)
    if len(im.gt_boxes):
        iou = box_iou(cand, im.gt_boxes)
        best = iou.argmax(axis=1)
        max_iou = iou[np.arange(len(cand)), best]
    else:
        best = np.zeros(len(cand), np.int64)
        max_iou = np.zeros(len(cand))
    ignore_iou = min(config.fg_iou, 0.5)  # a region on an object of a class not learned is never background
    ignore = (box_iou(cand, im.ignore_boxes).max(axis=1) >= ignore_iou) if len(im.ignore_boxes) else \
        np.zeros(len(cand), bool)
    if len(im.ignore_boxes):  # a region mostly inside an ignored object (a person in a crowd region: COCO's own
        # test, intersection over the region's area) is never its background — a detection or a proposal alike
        ignore |= box_ioa(cand, im.ignore_boxes).max(axis=1) >= ignore_iou
    fg = np.flatnonzero(max_iou >= config.fg_iou)
    bg = np.flatnonzero((max_iou < config.fg_iou) & (max_iou >= config.bg_iou_low) & ~ignore)
    if len(bg) == 0:
        bg = np.flatnonzero((max_iou < config.fg_iou) & ~ignore)
    n_fg = int(round(n * config.fg_fraction)) if len(fg) else 0
    if not im.exhaustive:
        bg = bg[:0]
        n = n_fg = max(n_fg, 1) if len(fg) else 0
    if len(bg) == 0:
        n_fg = n if len(fg) else 0
    pick_fg = rng.choice(fg, size=n_fg, replace=len(fg) < n_fg) if n_fg else np.zeros(0, np.int64)
    n_bg = n - n_fg
    hard_bg = np.zeros(0, np.int64)
    if n_hard_cand and n_bg:  # the detections off every object, whatever their IoU (never on an ignored object)
        hard_bg = np.flatnonzero((max_iou < config.fg_iou) & ~ignore)
        hard_bg = hard_bg[hard_bg >= len(cand) - n_hard_cand]
    n_hard = min(int(round(n_bg * config.hard_fraction)), len(hard_bg))
    if n_hard:
        pick_hard = rng.choice(hard_bg, size=n_hard, replace=False)
        rest = n_bg - n_hard
        pick_bg = np.concatenate([pick_hard, rng.choice(bg, size=rest, replace=len(bg) < rest)
                                  if len(bg) and rest else np.zeros(0, np.int64)])
    elif len(bg):
        pick_bg = rng.choice(bg, size=n_bg, replace=len(bg) < n_bg)
    else:  # nothing at all to call background: whole-image box
        pick_bg = np.zeros(0, np.int64)
    boxes = np.concatenate([cand[pick_fg], cand[pick_bg]])
    labels = np.concatenate([im.gt_labels[best[pick_fg]] if n_fg else np.zeros(0, np.int64),
                             np.zeros(len(pick_bg), np.int64)])
    targets = np.zeros((len(boxes), 4), np.float32)
    if n_fg:
        targets[:n_fg] = encode_deltas(cand[pick_fg], im.gt_boxes[best[pick_fg]])
    if len(boxes) < n and im.exhaustive:  # pad with the whole image as background
        extra = n - len(boxes)
        boxes = np.concatenate([boxes, np.tile([[0, 0, im.width, im.height]], (extra, 1)).astype(np.float32)])
        labels = np.concatenate([labels, np.zeros(extra, np.int64)])
        targets = np.concatenate([targets, np.zeros((extra, 4), np.float32)])
    return boxes.astype(np.float32), labels.astype(np.int64), targets


class RegionBatches(TorchDataset):
    """Item ``i`` of epoch ``e``: the warped regions of one image with labels and box targets — in fast mode the
    whole normalised image resized to the spec's scale and the sampled boxes in its pixels instead of the regions;
    all randomness from ``(seed, epoch, image)``. The order of images per epoch is :meth:`epoch_order`."""

    def __init__(self, images: Sequence[TrainImage], spec: ClassifierSpec, config: TrainConfig):
        self.images = list(images)
        self.spec = spec
        self.config = config
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.images)

    def epoch_order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.config.seed, epoch, 0]).permutation(len(self.images))

    def __getitem__(self, i: int):
        im = self.images[i]
        rng = np.random.default_rng([self.config.seed, self.epoch, 1, i])
        image = load_image(im.path).astype(np.float32)
        h, w = image.shape[:2]
        sx, sy = w / im.width, h / im.height  # annotations may describe another size (never in our data)
        boxes, labels, targets = sample_regions(im, self.config.regions_per_image, self.config, rng)
        boxes = boxes * np.array([sx, sy, sx, sy], np.float32)
        if self.config.photometric:
            image = photometric_distort(image, rng, max_value=255.0, channel_axis=2)
        if self.config.flip and rng.random() < 0.5:
            image = image[:, ::-1]
            boxes = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], axis=1)
            targets = targets * np.array([-1, 1, 1, 1], np.float32)
        t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).div_(255.0)
        if self.spec.mode == "fast":  # 3 x H' x W', boxes [n, 4] in its pixels (regression targets do not scale)
            small, (fx, fy) = resize_short_side(normalize_image(t, self.spec.mean, self.spec.std),
                                           self.spec.fast_short_side, self.spec.fast_max_side)
            return (small, torch.from_numpy(boxes * np.array([fx, fy, fx, fy], np.float32)),
                    torch.from_numpy(labels), torch.from_numpy(targets))
        regions = warp_regions(normalize_image(t, self.spec.mean, self.spec.std), torch.from_numpy(boxes),
                               self.spec.warp)
        return regions, torch.from_numpy(labels), torch.from_numpy(targets)


def collate_regions(items):
    """Crops mode: (regions B x 3 x S x S, labels [B], targets [B, 4]). Fast mode (items of image, boxes, labels,
    targets): an :class:`ImageBatch` of the images zero-padded at the bottom and right to the largest (zero is the
    mean colour after normalisation; boxes keep their coordinates), then labels and targets."""
    if len(items[0]) == 4:
        images, boxes, labels, targets = zip(*items)
        h = max(im.shape[1] for im in images)
        w = max(im.shape[2] for im in images)
        batch = images[0].new_zeros((len(images), 3, h, w))  # I x 3 x H x W
        for k, im in enumerate(images):
            batch[k, :, : im.shape[1], : im.shape[2]] = im
        return ImageBatch(batch, tuple(boxes)), torch.cat(labels), torch.cat(targets)
    regions, labels, targets = zip(*items)
    return torch.cat(regions), torch.cat(labels), torch.cat(targets)


def _collate_for_loader(items):
    """:func:`collate_regions`, in shared memory when built by a worker (:func:`detector.nn.workers.shared_batch`)."""
    return shared_batch(collate_regions(items))


class _EpochSampler(torch.utils.data.Sampler):
    """The epoch's order (:meth:`RegionBatches.epoch_order`), or rank ``rank``'s shard of it."""

    def __init__(self, data: RegionBatches, rank: int = 0, world_size: int = 1):
        self.data = data
        self.rank = rank
        self.world_size = world_size

    def __iter__(self):
        return iter(distributed.shard(self.data.epoch_order(self.data.epoch).tolist(), self.rank, self.world_size))

    def __len__(self):
        return math.ceil(len(self.data) / self.world_size)


class _WithBoxes(nn.Module):
    """``forward`` = the member's ``forward_with_boxes``: DistributedDataParallel averages gradients only of what
    runs through the wrapped module's ``forward``."""

    def __init__(self, model: RegionClassifier):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor):
        return self.model.forward_with_boxes(x)


def classifier_loss(forward: Callable[[Tensor], tuple], regions, labels, targets, config: TrainConfig,
                    class_matrix: Tensor | None = None):
    """Cross-entropy (+ 0.3 × each auxiliary cross-entropy) (+ smooth-L1 box regression on foreground).
    ``forward`` is a member's ``forward_with_boxes`` (or a module calling it, such as DDP of :class:`_WithBoxes`).
    ``class_matrix`` ([1000, K], ``class_map`` members): the cross-entropy is that of the mapped probabilities (the
    log of the summed softmax of the label's ImageNet leaves), so the 1,000-way head keeps its meaning."""
    out, deltas = forward(regions)
    if class_matrix is None:
        def ce(logits):
            return F.cross_entropy(logits, labels)
    else:
        def ce(logits):
            return -mapped_log_likelihood(logits, labels, class_matrix).mean()
    parts = {}
    if isinstance(out, GoogLeNetOutputs):
        parts["cls"] = ce(out.logits)
        parts["aux"] = config.aux_weight * (ce(out.aux1) + ce(out.aux2))
    else:
        parts["cls"] = ce(out)
    if deltas is not None:
        fg = labels > 0
        if fg.any():
            pred = deltas[fg, labels[fg] if deltas.shape[1] > 1 else 0]  # class-agnostic: one row
            parts["bbox"] = config.bbox_weight * F.smooth_l1_loss(pred, targets[fg], beta=1.0, reduction="sum") \
                / labels.numel()
        else:
            parts["bbox"] = deltas.sum() * 0
    return sum(parts.values()), {k: float(v.detach()) for k, v in parts.items()}


def check_resume_spec(out: Path, spec: ClassifierSpec, ignore: Sequence[str] = ()) -> None:
    """Refuse to resume the run writing ``out`` with another spec than it was started with (its last checkpoint,
    written with each state file, records it): another mode, above all, would load the weights into the other
    mode's network. Nothing to check when that file is missing. ``ignore``: fields not compared (those the data
    settles, when it has not been read yet)."""
    last = last_path(out)
    if not last.is_file():
        return
    before = read_spec(read_checkpoint(last, CHECKPOINT_FORMAT), last).to_dict()
    now = spec.to_dict()
    diff = [k for k in now if before.get(k) != now[k] and k not in ignore]
    if "mode" in diff:
        raise CheckpointError(refused_resume(out, [setting_change("--mode", spec.mode, before["mode"])],
                                             start_over=f"start a new run from its weights with --init {last}"))
    if diff:  # named as the options give them (trial 23: "class_map  (was imagenet1k)" for --class-map none)
        shown = [k for k in diff if not (k == "num_classes" and "class_map" in diff)]  # follows from the class map
        raise CheckpointError(refused_resume(out, [setting_change(_spec_option(k), _spec_value(k, now.get(k)),
                                                                  _spec_value(k, before.get(k))) for k in shown]))


_SPEC_OPTIONS = {"num_classes": "classes (the training set's)", "bbox_reg": "--bbox-reg", "class_map": "--class-map"}


def _spec_option(key: str) -> str:
    return option_flag(key, _SPEC_OPTIONS)


def _spec_value(key: str, value) -> str:
    if key == "class_map":
        return value or "none"
    if key == "bbox_reg":
        return "on" if value else "off"
    return str(value)


def train_classifier(
    train_images: Sequence[TrainImage],
    classes: Sequence[Category],
    spec: ClassifierSpec,
    config: TrainConfig,
    out: Path,
    *,
    init: Callable[[RegionClassifier], None] | None = None,
    validate: Callable[[Member], float] | None = None,
    resume: bool = False,
    device="cpu",
    progress: Callable | None = None,
    metadata: dict | None = None,
    half: bool = False,
    drop_aux: bool = False,
    on_epoch_end: Callable[[LoopState], None] | None = None,
) -> LoopState:
    """Train one member with :func:`detector.nn.loop.fit`; write ``out`` (the best by validation mAP, or the last
    without validation), ``<stem>.last.ckpt``, the resume state ``<stem>.state.ckpt`` and one JSON line per epoch
    in ``<stem>.log.jsonl`` (:func:`detector.nn.loop.log_path`); ``half``: ``out`` with float16 weights
    (:func:`detector.nn.loop.stored_half`), ``drop_aux``: ``out`` without the auxiliary heads.

    ``validate(member) -> mAP`` is called every ``config.val_every`` epochs and after the last. ``progress`` wraps
    the batch iterator (e.g. tqdm) and receives ``set_postfix`` updates when it has that method; ``on_epoch_end``
    as in :func:`detector.nn.loop.fit`.

    In a process group of W > 1 (``torchrun``; :func:`detector.nn.distributed.init`) every rank calls this with its
    own ``device`` and trains on its shard of each epoch, gradients averaged across ranks. ``validate`` runs on
    every rank and rank 0's answer counts (the CLI's validator shards the images and gathers the detections);
    only rank 0 shows ``progress`` and writes the files. ``resume`` loads the state file on every rank."""
    out = Path(out)
    device = torch.device(device)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    model = build_classifier(spec)
    if init is not None:
        init(model)
    if device.type == "cpu":  # PyTorch's CPU convolutions and pooling are faster in it (a paper-bn training step at
        # width 0.5, 112 px, 128 regions: 1.3-1.6x, measured); from the start, so that a resumed run computes as an
        # uninterrupted one (validation used to switch the model to it in place after the first epoch: trial 23)
        model.to(memory_format=torch.channels_last)
    data = RegionBatches(train_images, spec, config)
    class_matrix = torch.from_numpy(leaf_matrix(classes)).to(device) if spec.class_map else None

    def batches(epoch: int, rank: int, world: int):
        data.epoch = epoch
        return DataLoader(data, batch_size=config.images_per_batch, sampler=_EpochSampler(data, rank, world),
                          num_workers=config.workers, collate_fn=_collate_for_loader, persistent_workers=False,
                          generator=torch.Generator().manual_seed(config.seed + epoch))

    def loss(net, batch, dev):
        regions, labels, targets = batch
        return classifier_loss(net, regions.to(dev), labels.to(dev), targets.to(dev), config, class_matrix)

    def save(m, path, meta):
        save_member(path, m, spec, classes, train=meta, half=stored_half(path, out, half),
                    drop_aux=drop_aux and path == out)

    def validate_member(m) -> dict:
        return {"val_mAP": float(validate(Member(m, spec, tuple(classes), {})))}

    task = Task(batches=batches, loss=loss, save=save, validate=validate_member if validate else None,
                score_key="val_mAP", val_every=config.val_every, forward_module=_WithBoxes(model),
                examples=lambda batch: len(batch[1]), examples_name="regions_per_s", name="classifier")
    return fit(model, task, config.optim, out, resume=resume, device=device, amp=False, progress=progress,
               metadata={"config": config.to_dict(), **(metadata or {})},
               check_resume=lambda _last: check_resume_spec(out, spec), on_epoch_end=on_epoch_end)


def make_validator(val_sets: Sequence[Dataset], val_props: Sequence[Sequence[np.ndarray | None]], *,
                   max_proposals: int | None, device, mode: str | None = None) -> Callable[[Member], float] | None:
    """``validate(member)`` → the ILSVRC-metric mAP of one member over the validation sets (mean over the sets of
    the mean AP over the classes the member knows: a model of persons is not judged on VOC's bottles), with the
    proposals given per set and image (``val_props[s][i]``: float32 [R, 4], or None to leave the image out) and
    :data:`VALIDATION_POSTPROCESS`; None when there is nothing to validate on. Each image goes through
    :func:`detector.pipeline.detect_each`, as in ``detect run``. Under ``torchrun`` every rank detects on every
    W-th image and all evaluate the gathered detections; an image that fails raises ``RuntimeError``. ``mode``:
    validate in this mode (crops | fast; None: the member's own, :meth:`Member.with_mode`)."""
    if not val_sets:
        return None
    props_of = {id(im): props for ds, props_ds in zip(val_sets, val_props) for im, props in zip(ds.images, props_ds)
                if im.path is not None and props is not None}

    def validate(member: Member) -> float:
        # on a copy: the Detector puts its model in channels-last on the CPU (and eval mode), and the training
        # model went on in that layout after the first validation — other numerics than a resumed run's, whose
        # model starts contiguous, so that --resume under torchrun was not exact (trial 23)
        member = replace(member, model=copy.deepcopy(member.model)).with_mode(mode)
        det = Detector(None, [member], VALIDATION_POSTPROCESS, batch_size=VALIDATION_BATCH,
                       max_proposals=max_proposals, device=device)
        rank, world = distributed.rank(), distributed.world_size()
        return float(np.mean([_set_map(det, member, ds, props_of, rank, world) for ds in val_sets]))

    return validate


def _set_map(det: Detector, member: Member, ds: Dataset, props_of: dict, rank: int, world: int) -> float:
    """One validation set's mean AP over the classes ``member`` knows (see :func:`make_validator`)."""
    class_by_key = {c.key: k for k, c in enumerate(ds.classes)}
    to_gt = np.array([class_by_key.get(c.key, -1) for c in member.classes], dtype=np.int64)
    mine = [(i, im) for i, im in enumerate(ds.images) if id(im) in props_of and i % world == rank]
    idx, lab, sc, bx = [], [], [], []
    items = (Proposed(Path(im.path), boxes=props_of[id(im)]) for _, im in mine)
    for (i, _), (item, d, error) in zip(mine, detect_each(det, items)):
        if d is None:
            raise RuntimeError(f"validation: {item.path}: {error}")
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
    learnable = {class_by_key[c.key] for c in member.classes if c.key in class_by_key}
    r = evaluate(ds, preds, "ilsvrc")
    aps = [c.ap for c in r.per_class if c.ap is not None and ds.classes.index(c.category) in learnable]
    return float(np.mean(aps)) if aps else 0.0
