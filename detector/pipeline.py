"""The detection pipeline: proposals → warped regions in batches (crops mode; fast mode: one trunk pass per image
and member, region features pooled from it) → each member's softmax → mean over members → (box regression) →
score threshold → per-class NMS (Soft-NMS, or greedy) → top-k per image (:func:`postprocess`; under Soft-NMS a kept
box's decayed score may end below the threshold).

:class:`Detector` wires a proposer (any callable ``image -> [R, 4]``, :mod:`proposals.proposers`), an ensemble and
post-processing, as torchvision's ``GeneralizedRCNN`` wires the parts it is given; :func:`detect_each` is the
per-image step every caller shares — the engines of ``detect run`` (:mod:`detector.engines`) and training-time
validation (:func:`detector.train.make_validator`).

Shapes: R proposals of one image, B regions per CNN batch, M ensemble members, K = C + 1 classes (label 0 is
background), D detections kept.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from torchvision.ops import batched_nms, box_iou, clip_boxes_to_image, remove_small_boxes

from proposals.proposers import Proposed

from .classifier import Member
from .data.images import ImageError, load_image
from .data.vocab import Category
from .nn.device import autocast
from .nn.inception import GoogLeNet
from .nn.onnx import BACKENDS, onnx_available
from .nn.transforms import normalize_image, resize_short_side
from .onnx_backend import OnnxFastRunner, OnnxRunner
from .regions import warp_regions

__all__ = ["PostprocessConfig", "Detections", "Detector", "apply_box_deltas", "postprocess", "soft_nms",
           "detect_each", "BATCH_SIZE", "BOX_WEIGHTS", "NMS_KINDS"]

logger = logging.getLogger(__name__)

Proposer = Callable[[np.ndarray], "np.ndarray | Tensor"]  # RGB uint8 H x W x 3 → xyxy [R, 4]
BATCH_SIZE = 64  # regions per CNN batch: bounds memory whatever the number of proposals (our choice)
MAX_REFINE = 10  # --refine's bound (our choice): each step costs a pass; 2 already lost on validation (README)


@dataclass(frozen=True)
class PostprocessConfig:
    nms: str = "soft"  # per-class NMS: soft = Gaussian Soft-NMS (Bodla et al. 2017); greedy = R-CNN's
    nms_iou: float = 0.3  # greedy NMS's IoU (R-CNN / the paper: 0.3)
    soft_nms_sigma: float = 0.5  # Soft-NMS's Gaussian decay, score * exp(-IoU^2 / sigma) (Bodla et al.: 0.5)
    score_threshold: float = 0.05  # drop class scores below this (detectron2's default test threshold)
    max_detections: int = 100  # per image (COCO evaluates 100)
    min_size: float = 1.0  # drop boxes thinner than this after clipping (pixels)
    refine: int = 0  # iterative localization (Gidaris & Komodakis 2015): the kept detections' boxes regressed again
    classes: tuple[str, ...] | None = None  # only these classes' detections, by the model's names (None: every class)


@dataclass(frozen=True, eq=False)
class Detections:
    """Detections of one image: ``boxes`` float32 [D, 4] xyxy, ``scores`` float32 [D], ``labels`` int64 [D] in
    1..C (index + 1 into the ensemble's classes)."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    num_proposals: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage

    def __len__(self) -> int:
        return len(self.scores)


BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)  # detectron2's Fast R-CNN box-delta weights (training encodes with these too)


def apply_box_deltas(boxes: Tensor, deltas: Tensor, weights=BOX_WEIGHTS) -> Tensor:
    """R-CNN box regression: proposal boxes [R, 4] and deltas [R, K, 4] (dx, dy, dw, dh) → boxes [R, K, 4].
    ``weights``: :data:`BOX_WEIGHTS`, as :func:`detector.train.encode_deltas` encodes the targets."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    cx = boxes[:, 0] + 0.5 * w
    cy = boxes[:, 1] + 0.5 * h
    wx, wy, ww, wh = weights
    dx, dy = deltas[..., 0] / wx, deltas[..., 1] / wy
    dw = torch.clamp(deltas[..., 2] / ww, max=np.log(1000.0 / 16))
    dh = torch.clamp(deltas[..., 3] / wh, max=np.log(1000.0 / 16))
    pcx = dx * w[:, None] + cx[:, None]
    pcy = dy * h[:, None] + cy[:, None]
    pw = torch.exp(dw) * w[:, None]
    ph = torch.exp(dh) * h[:, None]
    return torch.stack([pcx - 0.5 * pw, pcy - 0.5 * ph, pcx + 0.5 * pw, pcy + 0.5 * ph], dim=-1)


SOFT_NMS_MIN_SCORE = 0.001  # Soft-NMS drops a box once its decayed score is below this (Bodla et al. 2017)
NMS_KINDS = ("soft", "greedy")


def soft_nms(boxes: Tensor, scores: Tensor, labels: Tensor, sigma: float, max_kept: int) -> tuple[Tensor, Tensor]:
    """Per-class Gaussian Soft-NMS (Bodla et al., "Soft-NMS — Improving Object Detection With One Line of Code",
    ICCV 2017): the best box is kept, every other box of its class has its score multiplied by
    ``exp(-IoU^2 / sigma)``, and so on with the best of the rest; boxes whose score falls below
    :data:`SOFT_NMS_MIN_SCORE` are dropped. ``boxes`` float [N, 4] xyxy, ``scores`` [N], ``labels`` int [N].

    Returns (indices into the inputs [D], their decayed scores [D]), best first, at most ``max_kept``. The kept
    scores never rise, so the first ``max_kept`` picks are the ``max_kept`` best of the whole procedure: it stops
    there: one IoU row per kept box, so time grows as ``max_kept`` x N and memory as N (not N^2). Raises
    ``ValueError`` for ``sigma`` <= 0."""
    if sigma <= 0:
        raise ValueError(f"soft_nms: sigma must be above 0, got {sigma}")
    n = boxes.shape[0]
    current = scores.to(torch.float32).clone()
    alive = torch.ones(n, dtype=torch.bool, device=boxes.device)
    order, kept_scores = [], []
    for _ in range(min(n, max_kept)):
        masked = torch.where(alive, current, current.new_tensor(-1.0))
        j = int(masked.argmax())
        if not alive[j]:
            break
        order.append(j)
        kept_scores.append(current[j])
        alive[j] = False
        same = alive & (labels == labels[j])
        if same.any():
            iou = box_iou(boxes[j : j + 1].float(), boxes.float())[0]
            current = torch.where(same, current * torch.exp(-(iou**2) / sigma), current)
            alive &= ~(same & (current < SOFT_NMS_MIN_SCORE))
    index = torch.tensor(order, dtype=torch.long, device=boxes.device)
    return index, (torch.stack(kept_scores) if kept_scores else scores.new_zeros(0)).to(scores.dtype)


def postprocess(boxes: Tensor, probs: Tensor, image_size: tuple[int, int], config: PostprocessConfig,
                class_mask: Tensor | None = None):
    """Per-class NMS over mean class probabilities: Soft-NMS (``config.nms == "soft"``: :func:`soft_nms`, the
    scores decayed) or greedy (R-CNN: a box overlapping a better one of its class by IoU above ``config.nms_iou``
    is dropped); then the best ``config.max_detections``.

    ``boxes``: [R, 4] (shared by all classes) or [R, K, 4] (class-specific, after regression); ``probs``: [R, K]
    with column 0 the background; ``class_mask``: bool [K - 1], the classes kept (None: all; ``config.classes``
    resolved by :class:`Detector`), applied before the cap so that ``max_detections`` counts kept classes alone.
    Returns (boxes [D, 4], scores [D], labels [D] in 1..K-1), best first. Raises ``ValueError`` for an unknown
    ``config.nms``."""
    r, k = probs.shape
    if boxes.dim() == 2:
        boxes = boxes[:, None, :].expand(r, k, 4)
    boxes = clip_boxes_to_image(boxes[:, 1:].reshape(-1, 4), image_size)  # R*(K-1) x 4
    scores = probs[:, 1:].reshape(-1)
    labels = torch.arange(1, k, device=probs.device).repeat(r)
    wanted = scores >= config.score_threshold
    if class_mask is not None:
        wanted &= class_mask.to(probs.device).repeat(r)
    keep = torch.nonzero(wanted).squeeze(1)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    keep = remove_small_boxes(boxes, config.min_size)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    if config.nms == "soft":
        keep, decayed = soft_nms(boxes, scores, labels, config.soft_nms_sigma, config.max_detections)
        return boxes[keep], decayed, labels[keep]
    if config.nms != "greedy":
        raise ValueError(f"nms must be one of {', '.join(NMS_KINDS)}, got {config.nms!r}")
    keep = batched_nms(boxes, scores, labels, config.nms_iou)[: config.max_detections]
    return boxes[keep], scores[keep], labels[keep]


def _check_pixels(image) -> None:
    """Refuse what :meth:`Detector.detect` cannot read as RGB pixels H x W x 3 in 0–255 (``uint8``, or float as
    the tests' exact ramps) (trial 66: a float image in [0, 1], as torchvision takes it, was read as black and found
    nothing without a word; a C x H x W array or a tensor raised torch's shape errors)."""
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and (
            image.dtype == np.uint8 or (np.issubdtype(image.dtype, np.floating) and not (
                image.size and 0 < float(np.nanmax(image)) <= 1))):
        return
    what = (f"{type(image).__name__} of shape {tuple(image.shape)} {image.dtype}"
            if hasattr(image, "shape") and hasattr(image, "dtype") else type(image).__name__)
    if isinstance(image, np.ndarray) and np.issubdtype(image.dtype, np.floating) and image.ndim == 3:
        what += " with values in [0, 1]"
    raise ValueError(f"image: Detector.detect takes a numpy array of RGB uint8 pixels, H x W x 3, got a {what} "
                     "(a float image in [0, 1]: (x * 255).round().astype(np.uint8); a PIL image: "
                     "np.asarray(img.convert('RGB'))); the loaded detector itself, det(image), converts PIL images, "
                     "tensors, grey and float images")


class Detector:
    """Wires a proposer, an ensemble of region classifiers and post-processing; owns nothing else.

    ``proposer`` makes an image's proposals when :meth:`detect` is given none (None: callers always pass them);
    ``max_proposals`` caps the regions scored per image, in the proposer's order (None: all). ``batch_size`` bounds
    the regions warped and scored at once (in fast mode: pooled and run through the tail at once), so memory stays
    flat however many proposals an image has. ``amp``: the networks under bfloat16 autocast (None: on CUDA devices;
    never on CPU); softmax, box decoding and NMS stay float32. ``backend="onnx"``: crops-mode members run on ONNX
    Runtime when the device is the CPU (:mod:`detector.onnx_backend`); ``auto``: so when onnxruntime is installed.
    Raises ``ValueError`` for an empty ensemble, an unknown backend, or ``postprocess_config.classes`` naming a class
    the ensemble lacks (:func:`detector.data.vocab.select_classes` makes that list from what a user typed)."""

    def __init__(self, proposer: Proposer | None, members: Sequence[Member],
                 postprocess_config: PostprocessConfig = PostprocessConfig(), *, batch_size: int = BATCH_SIZE,
                 max_proposals: int | None = None, device="cpu", amp: bool | None = None, backend: str = "torch"):
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.proposer = proposer
        self.members = list(members)
        self.postprocess_config = postprocess_config
        self._class_mask = None  # postprocess_config.classes as a bool [K - 1] over the ensemble's classes
        if postprocess_config.classes is not None:
            names = [c.name for c in self.members[0].classes]
            missing = [n for n in postprocess_config.classes if n not in names]
            if missing:
                raise ValueError(f"classes to keep that the ensemble lacks: {', '.join(missing)}")
            self._class_mask = torch.tensor([n in postprocess_config.classes for n in names])
        self.batch_size = int(batch_size)
        self.max_proposals = None if max_proposals is None else int(max_proposals)
        self.device = torch.device(device)
        self.amp = self.device.type == "cuda" and (amp is None or bool(amp))
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self._runners: dict[int, Callable] = {}  # member index → ONNX Runtime session (crops members on the CPU)
        if backend == "auto":
            backend = "onnx" if onnx_available() else "torch"
        if backend == "onnx" and self.device.type == "cpu":
            for i, m in enumerate(self.members):
                if m.spec.mode == "crops":
                    self._runners[i] = OnnxRunner(m.model, m.spec.input_size)
                elif isinstance(m.model.backbone, GoogLeNet):
                    self._runners[i] = OnnxFastRunner(m.model)
        for m in self.members:
            m.model.eval().to(self.device)
            if self.device.type == "cpu":
                # channels-last: PyTorch's CPU max-pooling is several times faster on it (GoogLeNet has 13 max
                # pools; measured 2.4x for the whole network, benchmarks/bench_backends.py)
                m.model.to(memory_format=torch.channels_last)

    @property
    def classes(self) -> tuple[Category, ...]:
        return self.members[0].classes

    @property
    def uses_onnx(self) -> bool:
        """Whether some member runs on ONNX Runtime in this process."""
        return bool(self._runners)

    def _member_batches(self, m: Member, img: Tensor, boxes: Tensor, resized: dict, runner: Callable | None = None
                        ) -> Iterator[tuple[int, Tensor, Tensor, Tensor | None]]:
        """(start, boxes [B, 4], logits [B, K], deltas [B, K, 4] or None) of one member over ``boxes`` of the
        normalised image ``img``: warped batches (crops mode) or one trunk pass, the tail in batches (fast mode)."""
        if m.spec.mode == "fast":
            key = (id(img), m.spec.fast_short_side, m.spec.fast_max_side)
            if key not in resized:
                resized[key] = resize_short_side(img, m.spec.fast_short_side, m.spec.fast_max_side)
            small, (sx, sy) = resized[key]
            if runner is not None:
                logits, deltas = runner(small, boxes * boxes.new_tensor([sx, sy, sx, sy]), chunk=self.batch_size)
                yield 0, boxes, logits, deltas
                return
            with autocast(self.device, self.amp):
                logits, deltas = m.model.forward_fast(small, boxes * boxes.new_tensor([sx, sy, sx, sy]),
                                                      chunk=self.batch_size)
            yield 0, boxes, logits, deltas
            return
        for s in range(0, boxes.shape[0], self.batch_size):
            b = boxes[s : s + self.batch_size]
            regions = warp_regions(img, b, m.spec.warp)  # B x 3 x S x S
            if runner is not None:
                logits, deltas = runner(regions)
                yield s, b, logits, deltas
                continue
            with autocast(self.device, self.amp):
                if m.spec.bbox_reg:
                    logits, deltas = m.model.forward_with_boxes(regions)
                else:
                    logits, deltas = m.model(regions), None
            yield s, b, logits, deltas

    @torch.inference_mode()
    def score_regions(self, image: np.ndarray, boxes: Tensor) -> tuple[Tensor, Tensor | None]:
        """Mean softmax over members, [R, K], and the mean regressed boxes [R, K, 4] (None without regression)."""
        r = boxes.shape[0]
        k = len(self.members[0].classes) + 1
        probs = torch.zeros((r, k), device=self.device)
        reg_boxes = None
        n_reg = sum(m.spec.bbox_reg for m in self.members)
        normalized: dict[tuple, Tensor] = {}
        resized: dict[tuple, tuple] = {}  # fast mode: the normalised image at each member's scale
        for i, m in enumerate(self.members):
            key = (tuple(m.spec.mean), tuple(m.spec.std))
            if key not in normalized:
                normalized[key] = normalize_image(image, m.spec.mean, m.spec.std, self.device)
            img = normalized[key]
            for s, b, logits, deltas in self._member_batches(m, img, boxes, resized, self._runners.get(i)):
                if m.spec.bbox_reg:
                    if reg_boxes is None:
                        reg_boxes = torch.zeros((r, k, 4), device=self.device)
                    # class-agnostic regression (one row of deltas) moves the box alike for every class
                    reg_boxes[s : s + len(b)] += apply_box_deltas(b, deltas.float()).expand(-1, k, -1) / n_reg
                probs[s : s + len(b)] += m.probabilities(logits)
        probs /= len(self.members)
        return probs, reg_boxes

    def _regions(self, image: np.ndarray, proposals) -> Tensor:
        """The regions scored for ``image``: its proposals (the proposer's when None), exact duplicates scored once
        (first occurrence kept, order kept), then the cap; float32 [R, 4] on the device."""
        if proposals is None:
            if self.proposer is None:
                raise ValueError("this Detector has no proposer: pass proposals")
            proposals = self.proposer(image)
        boxes = np.asarray(proposals, dtype=np.float32).reshape(-1, 4)
        bad = ~np.isfinite(boxes).all(axis=1)
        if bad.any():  # trial 66: a NaN or infinite box crashed the process (roi_align: a segmentation fault)
            k, n = int(np.flatnonzero(bad)[0]), int(bad.sum())
            raise ValueError(f"proposals: {n} of the {len(boxes)} boxes {'has' if n == 1 else 'have'} a NaN or "
                             f"infinite coordinate (row {k}: {boxes[k].tolist()}); a box is x1 y1 x2 y2 in the "
                             "image's pixels")
        if len(boxes):
            _, first = np.unique(boxes, axis=0, return_index=True)
            if len(first) < len(boxes):
                boxes = boxes[np.sort(first)]
        return torch.as_tensor(boxes)[: self.max_proposals].to(self.device)

    def _detections(self, image: np.ndarray, boxes: Tensor, probs: Tensor, reg: Tensor | None, timings: dict
                    ) -> Detections:
        t = time.perf_counter()
        out_boxes, scores, labels = postprocess(reg if reg is not None else boxes, probs, image.shape[:2],
                                                self.postprocess_config, self._class_mask)
        timings["nms"] = time.perf_counter() - t
        if reg is not None and self.postprocess_config.refine and len(out_boxes):
            t = time.perf_counter()
            out_boxes = self.refine_boxes(image, out_boxes, labels, self.postprocess_config.refine)
            timings["classify"] = timings.get("classify", 0.0) + time.perf_counter() - t
        return Detections(out_boxes.cpu().numpy().astype(np.float32), scores.cpu().numpy().astype(np.float32),
                          labels.cpu().numpy().astype(np.int64), num_proposals=int(boxes.shape[0]),
                          timings=timings)

    def refine_boxes(self, image: np.ndarray, boxes: Tensor, labels: Tensor, steps: int = 1) -> Tensor:
        """Iterative localization (Gidaris & Komodakis, ICCV 2015, "Object detection via a multi-region and
        semantic segmentation-aware CNN model", section 5): the detections' boxes (xyxy [D, 4], pixels, after NMS),
        each scored again by the ensemble and moved by its box regression for its class (``labels`` [D] in
        1..K-1), ``steps`` times; clipped to the image. A box the regression would shrink below
        ``postprocess_config.min_size`` keeps its place. Scores and order are the caller's (re-scoring the moved
        boxes measured worse: README, "Box refinement"). Returns float32 [D, 4] on the device; ``boxes`` itself
        when no member regresses."""
        boxes = boxes.to(self.device, torch.float32)
        rows = torch.arange(len(boxes), device=self.device)
        for _ in range(steps):
            _, reg = self.score_regions(image, boxes)
            if reg is None:
                return boxes
            moved = clip_boxes_to_image(reg[rows, labels.to(self.device)], image.shape[:2])
            small = ((moved[:, 2] - moved[:, 0]) < self.postprocess_config.min_size) | \
                    ((moved[:, 3] - moved[:, 1]) < self.postprocess_config.min_size)
            boxes = torch.where(small[:, None], boxes, moved)
        return boxes

    def detect(self, image: np.ndarray, proposals=None) -> Detections:
        """Detect objects in one RGB ``uint8`` H x W x 3 image. ``proposals`` (xyxy [R, 4]) skips the proposer:
        for callers that computed them ahead (in parallel, or from a cache)."""
        _check_pixels(image)
        t0 = time.perf_counter()
        boxes = self._regions(image, proposals)
        t1 = time.perf_counter()
        probs, reg = self.score_regions(image, boxes)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        return self._detections(image, boxes, probs, reg, {"proposals": t1 - t0, "classify": t2 - t1})

    @property
    def batches_images(self) -> bool:
        """Whether :meth:`detect_batch` runs several images through one trunk pass: every member in fast mode on
        PyTorch (ONNX Runtime sessions and crops mode go image by image)."""
        return all(m.spec.mode == "fast" and i not in self._runners for i, m in enumerate(self.members))

    def detect_batch(self, images: Sequence[np.ndarray], proposals: Sequence) -> list[Detections]:
        """:meth:`detect` of several images (their proposals given) with, when :attr:`batches_images`, one trunk pass
        per member for all of them: each image normalised and resized on the CPU, zero-padded at the bottom and
        right to the largest (zero is the mean colour after normalisation, as in training), copied to the device
        from pinned memory without blocking, then the regions of all images pooled from the batch's 4e maps and run
        through the tail ``batch_size`` at a time. Detections as :meth:`detect` gives them, up to float rounding
        (and, for images of different sizes, the padding's reach into the trunk near their bottom and right
        edges). ``timings["classify"]`` is the batch's, shared out by the images' regions."""
        if not self.batches_images or len(images) < 2:
            return [self.detect(im, p) for im, p in zip(images, proposals)]
        t0 = time.perf_counter()
        regions = [self._regions(im, p) for im, p in zip(images, proposals)]
        t1 = time.perf_counter()
        counts = [len(b) for b in regions]
        k = len(self.members[0].classes) + 1
        probs = [torch.zeros((n, k), device=self.device) for n in counts]
        regs: list[Tensor | None] = [None] * len(images)
        n_reg = sum(m.spec.bbox_reg for m in self.members)
        with torch.inference_mode():
            for m in self.members:
                batch, scaled = self._image_batch(m, images, regions)
                with autocast(self.device, self.amp):
                    logits, deltas = m.model.forward_fast(batch, scaled, chunk=self.batch_size)
                for j, (lg, dl) in enumerate(zip(logits.split(counts), (deltas.split(counts) if deltas is not None
                                                                          else [None] * len(counts)))):
                    probs[j] += m.probabilities(lg)
                    if dl is not None:
                        step = apply_box_deltas(regions[j], dl.float()).expand(-1, k, -1) / n_reg
                        regs[j] = step if regs[j] is None else regs[j] + step
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        share = (time.perf_counter() - t1) / max(sum(counts), 1)
        return [self._detections(im, b, p / len(self.members), r,
                                 {"proposals": (t1 - t0) / len(images), "classify": share * len(b)})
                for im, b, p, r in zip(images, regions, probs, regs)]

    def _image_batch(self, m: Member, images, regions) -> tuple[Tensor, list[Tensor]]:
        """Images normalised and resized for member ``m`` (on the CPU), zero-padded into one N x 3 x H x W batch on
        the device (through pinned memory on CUDA), and each image's regions in its resized pixels."""
        small, scaled = [], []
        for im, b in zip(images, regions):
            s, (sx, sy) = resize_short_side(normalize_image(im, m.spec.mean, m.spec.std), m.spec.fast_short_side,
                                            m.spec.fast_max_side)
            small.append(s)
            scaled.append(b * b.new_tensor([sx, sy, sx, sy]))
        h, w = max(s.shape[1] for s in small), max(s.shape[2] for s in small)
        batch = torch.zeros((len(small), 3, h, w), pin_memory=self.device.type == "cuda")
        for j, s in enumerate(small):
            batch[j, :, : s.shape[1], : s.shape[2]] = s
        batch = batch.to(self.device, non_blocking=True)
        if self.device.type == "cpu":
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch, scaled


def detect_each(detector: Detector, items: Iterable[Proposed], *, images_per_batch: int = 1
                ) -> Iterator[tuple[Proposed, Detections | None, str | None]]:
    """The per-image step of every batch caller: each proposed image (:class:`proposals.proposers.Proposed`,
    in order) → ``(item, detections, None)``, its pixels in ``item.image`` (decoded here, once, when the proposer
    sent none), ``detections.timings["proposals"]`` its proposal seconds; or ``(item, None, why)`` when its
    proposals failed (``item.error``), its file cannot be decoded, or detection raised (``detection failed: …``,
    logged with the trace). One image's failure never stops the others; ``BaseException`` (Ctrl-C) does.

    ``images_per_batch`` > 1: images are gathered that many at a time and scored together
    (:meth:`Detector.detect_batch`: one trunk pass for all of them in fast mode); results still come in order."""
    if images_per_batch > 1:
        yield from _detect_batches(detector, items, images_per_batch)
        return
    for item in items:
        if item.error is not None:
            yield item, None, item.error
            continue
        try:
            if item.image is None:
                item = item._replace(image=load_image(item.path))
            det = detector.detect(item.image, proposals=item.boxes)
        except ImageError as e:
            yield item, None, str(e)
            continue
        except Exception as e:  # noqa: BLE001 - recorded as this image's error, with the trace logged
            logger.warning("detection failed on %s: %s: %s", item.path, type(e).__name__, e,
                           exc_info=logger.isEnabledFor(logging.DEBUG))  # the trace with -vv
            yield item, None, f"detection failed: {type(e).__name__}: {e}"
            continue
        det.timings["proposals"] = item.seconds
        yield item, det, None


def _detect_batches(detector: Detector, items: Iterable[Proposed], n: int):
    """:func:`detect_each` ``n`` images at a time; a batch that fails is retried image by image, so that one bad
    image is the only one recorded as failed."""
    pending: list[Proposed] = []

    def flush():
        ready = []
        for item in pending:
            if item.error is None and item.image is None:
                try:
                    item = item._replace(image=load_image(item.path))
                except ImageError as e:
                    item = item._replace(error=str(e))
            ready.append(item)
        good = [it for it in ready if it.error is None]
        try:
            dets = iter(detector.detect_batch([it.image for it in good], [it.boxes for it in good]))
        except Exception:  # noqa: BLE001 - retried one by one below, where the failing image is named
            logger.warning("a batch of %d image%s failed; retrying one by one", len(good), "" if len(good) == 1 else "s",
                           exc_info=True)
            yield from detect_each(detector, ready)
            return
        for item in ready:
            if item.error is not None:
                yield item, None, item.error
                continue
            det = next(dets)
            det.timings["proposals"] = item.seconds
            yield item, det, None

    for item in items:
        pending.append(item)
        if len(pending) == n:
            yield from flush()
            pending = []
    if pending:
        yield from flush()
