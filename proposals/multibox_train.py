"""Training a MultiBox network on any annotated dataset, with exact resume and validation recall per epoch.

Images are decoded and resized to the network's input once (uint8, in memory); each epoch draws its order, flips
and photometric distortion from ``(seed, epoch)``, and the global torch RNG is saved with the state, so a resumed
run continues exactly where it stopped.

Under ``torchrun`` (:mod:`detector.distributed`) each of W processes takes every W-th image of the epoch's order
(with its own flips and distortions) and gradients are averaged (DistributedDataParallel): an iteration sees W ×
``batch_size`` images, the cosine schedule counts iterations as before. Rank 0 validates and writes the files.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from detector import distributed
from detector.data.images import load_image

from .multibox import MultiBox, MultiBoxConfig, multibox_loss, resize_image, save_multibox
from .recall import recall_at

__all__ = ["MultiBoxTrainConfig", "MultiBoxSample", "prepare_samples", "train_multibox", "multibox_state_path"]

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
    seed: int = 0
    val_top_k: int = 200  # recall of the top-k boxes is reported on the validation images

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class MultiBoxSample:
    image: np.ndarray  # uint8 3 x S x S (resized whole image)
    boxes: np.ndarray  # float32 [G, 4] normalised xyxy


def prepare_samples(records, size: int) -> tuple[list[MultiBoxSample], list[str]]:
    """Dataset images → resized samples (boxes normalised by the image size). Unreadable images are skipped and
    reported in the second list."""
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
        t = torch.from_numpy(arr).permute(2, 0, 1).float()
        small = resize_image(t, size).round().clamp(0, 255).to(torch.uint8).numpy()
        keep = (im.boxes[:, 2] > im.boxes[:, 0]) & (im.boxes[:, 3] > im.boxes[:, 1]) & ~im.iscrowd
        scale = np.array([im.width, im.height, im.width, im.height], np.float32)
        out.append(MultiBoxSample(small, np.clip(im.boxes[keep] / scale, 0, 1).astype(np.float32)))
    return out, skipped


def _batch(samples: Sequence[MultiBoxSample], idx, config: MultiBoxTrainConfig, mb: MultiBoxConfig,
           rng: np.random.Generator):
    imgs, gts = [], []
    mean = torch.tensor(mb.mean).view(3, 1, 1)
    std = torch.tensor(mb.std).view(3, 1, 1)
    for i in idx:
        s = samples[i]
        img = torch.from_numpy(s.image).float() / 255.0
        b = s.boxes.copy()
        if config.photometric:
            img = img * rng.uniform(0.8, 1.2)
            m = img.mean()
            img = ((img - m) * rng.uniform(0.8, 1.2) + m).clamp(0, 1)
        if config.flip and rng.random() < 0.5:
            img = img.flip(-1)
            b = np.stack([1 - b[:, 2], b[:, 1], 1 - b[:, 0], b[:, 3]], axis=1) if len(b) else b
        imgs.append((img - mean) / std)
        gts.append(torch.from_numpy(b))
    return torch.stack(imgs), gts


def multibox_state_path(out) -> "os.PathLike":
    from pathlib import Path

    out = Path(out)
    return out.with_name(out.stem + ".state.ckpt")


def evaluate_recall(model: MultiBox, samples: Sequence[MultiBoxSample], top_k: int, device) -> dict:
    """Recall at IoU 0.5 / 0.7 of the top-k boxes (after NMS) on resized samples, in normalised coordinates."""
    model.eval()
    props, gts = [], []
    mean = torch.tensor(model.config.mean, device=device).view(3, 1, 1)
    std = torch.tensor(model.config.std, device=device).view(3, 1, 1)
    from torchvision.ops import nms

    with torch.inference_mode():
        for s in samples:
            x = (torch.from_numpy(s.image).to(device).float() / 255.0 - mean) / std
            loc, conf = model(x[None])
            b = loc[0].clamp(0, 1)
            keep = nms(b, torch.sigmoid(conf[0]), model.config.nms_iou)[:top_k]
            props.append(b[keep].cpu().numpy() * 1000)  # IoU is scale-free; avoid tiny numbers
            gts.append(s.boxes * 1000)
    r = recall_at(gts, props, iou_thresholds=(0.5, 0.7), top_ns=(top_k,))
    return {"recall@0.5": float(r[(0.5, top_k)]), "recall@0.7": float(r[(0.7, top_k)])}


@dataclass
class MultiBoxTrainState:
    epoch: int = 0
    iteration: int = 0
    best: float = -1.0
    history: list = field(default_factory=list)


def train_multibox(samples: Sequence[MultiBoxSample], priors: np.ndarray, mb: MultiBoxConfig,
                   config: MultiBoxTrainConfig, out, *, val_samples: Sequence[MultiBoxSample] = (),
                   resume: bool = False, device="cpu", progress: Callable | None = None,
                   log_path=None, metadata: dict | None = None,
                   on_epoch_end: Callable[[MultiBoxTrainState], None] | None = None) -> MultiBoxTrainState:
    """Train; write ``out`` (best validation recall@0.5, or the last without validation), the resume state
    ``<stem>.state.ckpt`` every epoch, and one JSON line per epoch to ``log_path``. ``on_epoch_end`` is called
    once everything of an epoch is on disk. In a process group of W > 1 (``torchrun``) every rank calls this with
    its own ``device``; rank 0 alone validates, shows ``progress`` and writes."""
    from pathlib import Path

    out = Path(out)
    device = torch.device(device)
    world, rank = distributed.world_size(), distributed.rank()
    main = rank == 0
    torch.manual_seed(config.seed)
    model = MultiBox(mb, priors).to(device)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": config.weight_decay},
                           {"params": no_decay, "weight_decay": 0.0}], lr=config.lr, momentum=config.momentum)
    state = MultiBoxTrainState()
    sp = multibox_state_path(out)
    if resume and sp.is_file():
        ck = torch.load(sp, map_location="cpu", weights_only=True)
        model.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        torch.set_rng_state(ck["torch_rng"])
        state = MultiBoxTrainState(ck["epoch"], ck["iteration"], ck["best"], json.loads(ck["history"]))
    step = model
    if world > 1:  # built after any resume state is loaded (DDP starts every rank from rank 0's weights)
        step = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    steps = math.ceil(math.ceil(len(samples) / world) / config.batch_size)
    total_iters = steps * config.epochs
    meta = {"config": config.to_dict(), **(metadata or {})}
    for epoch in range(state.epoch, config.epochs):
        rng = np.random.default_rng([config.seed, epoch])
        order = rng.permutation(len(samples))
        if world > 1:  # this rank's share of the order, with its own flips and distortions
            order = np.array(distributed.shard(order.tolist(), rank, world))
            rng = np.random.default_rng([config.seed, epoch, 1, rank])
        model.train()
        t0 = time.perf_counter()
        sums = {"loss": 0.0, "conf": 0.0, "loc": 0.0}
        batches = [order[s : s + config.batch_size] for s in range(0, len(order), config.batch_size)]
        it = progress(batches, epoch) if progress is not None and main else batches
        for idx in it:
            lr = config.lr * 0.5 * (1 + math.cos(math.pi * state.iteration / max(total_iters, 1)))  # cosine
            if state.iteration < config.warmup_iters:
                lr *= 0.1 + 0.9 * state.iteration / config.warmup_iters
            for g in opt.param_groups:
                g["lr"] = lr
            x, gts = _batch(samples, idx, config, mb, rng)
            loc, logits = step(x.to(device))
            loss, parts = multibox_loss(loc, logits, [g.to(device) for g in gts], mb.alpha)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"MultiBox loss became {float(loss)} at epoch {epoch + 1}: lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            state.iteration += 1
            sums["loss"] += loss.item()
            sums["conf"] += parts["conf"]
            sums["loc"] += parts["loc"]
            if hasattr(it, "set_postfix"):
                it.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.4f}")
        distributed.broadcast_buffers(model)  # rank 0 validates and saves what every rank holds
        means = distributed.all_reduce_mean({**{k: v / len(batches) for k, v in sums.items()},
                                             "images_per_s": len(order) / (time.perf_counter() - t0)})
        means["images_per_s"] *= world  # all ranks together
        record = {"epoch": epoch + 1, **means, "seconds": time.perf_counter() - t0}
        state.epoch = epoch + 1
        train_meta = {**meta, "epoch": state.epoch}
        if val_samples:
            record.update(distributed.broadcast_object(
                evaluate_recall(model, val_samples, config.val_top_k, device) if main else None))
            if record["recall@0.5"] > state.best:
                state.best = record["recall@0.5"]
                if main:
                    save_multibox(out, model, train={**train_meta, **{k: record[k] for k in ("recall@0.5",
                                                                                              "recall@0.7")}})
        elif main:
            save_multibox(out, model, train=train_meta)
        state.history.append(record)
        if main:
            # the torch RNG is the same on every rank, so rank 0's copy resumes them all
            save_multibox(sp, model, train=train_meta, extra={
                "optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state(), "epoch": state.epoch,
                "iteration": state.iteration, "best": state.best, "history": json.dumps(state.history)})
            if log_path is not None:
                with open(log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
            logger.info("multibox epoch %d: %s", state.epoch, record)
        distributed.barrier()  # the others wait while rank 0 writes
        if on_epoch_end is not None:
            on_epoch_end(state)
    return state
