"""MultiBox (Erhan et al., "Scalable Object Detection using Deep Neural Networks", 2014): a CNN that outputs K
class-agnostic boxes, each an offset from a prior box, and K confidences.

Shapes: N images, K priors (= outputs), G ground-truth boxes of one image. Boxes inside the network are normalised
xyxy in [0, 1] of the (whole, resized) image; :meth:`MultiBox.propose` returns pixel xyxy of the original image.

Training matches ground truth to predictions one-to-one with the Hungarian algorithm on the cost of the MultiBox
loss, ``α · ½‖l_i − g_j‖² − log c_i + log(1 − c_i)``, then minimises ``F = F_conf + α F_loc``: the logistic loss of
every confidence (matched → 1, unmatched → 0) and ``½‖l_i − g_j‖²`` over matched pairs.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.cluster.vq import kmeans2
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn
from torchvision.ops import batched_nms, clip_boxes_to_image

from detector.data.io import atomic_write
from detector.nn.checkpoint import (CLASSIFIER_FORMAT, MULTIBOX_FORMAT, CheckpointError, StoredConfig, float_state,
                                    inconsistent, read_checkpoint)
from detector.nn.inception import build_googlenet
from detector.nn.transforms import IMAGENET_MEAN, IMAGENET_STD, normalize_image, resize_square

__all__ = ["MultiBoxConfig", "MultiBox", "multibox_loss", "match", "kmeans_priors", "load_default_priors",
           "save_multibox", "load_multibox", "MULTIBOX_FORMAT", "init_trunk"]

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class MultiBoxConfig(StoredConfig):
    num_priors: int = 200  # K outputs; the paper added the top 200 MultiBox boxes to selective search
    input_size: int = 224  # the whole image is resized to input_size × input_size
    width: float = 1.0  # channel multiplier of the Inception trunk (1.0 = GoogLeNet's)
    batch_norm: bool = True  # trains from scratch far better
    alpha: float = 0.3  # weight of the location term (DESIGN.md: α ≈ 0.3)
    nms_iou: float = 0.7  # NMS among the K predicted boxes at inference
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD


def kmeans_priors(boxes: np.ndarray, k: int, *, iters: int = 50, seed: int = 0) -> np.ndarray:
    """k-means (Euclidean, Lloyd's algorithm from a k-means++ start: ``scipy.cluster.vq.kmeans2``, ``iters``
    iterations; a cluster left empty keeps its centre) over normalised xyxy boxes ``[M, 4]`` → ``float32 [k, 4]``
    centres, ordered by cluster size (largest first; with fewer than ``k`` distinct boxes some centres repeat). Raises
    ``ValueError`` for fewer than ``k`` boxes."""
    x = np.asarray(boxes, dtype=np.float64)
    if len(x) < k:
        raise ValueError(f"k-means needs at least k={k} boxes, got {len(x)}")
    with warnings.catch_warnings():  # "One of the clusters is empty": its centre stays, as documented above; fewer
        warnings.simplefilter("ignore", UserWarning)  # distinct boxes than k: k-means++ divides 0 by 0 choosing the
        warnings.simplefilter("ignore", RuntimeWarning)  # last centres, which repeat one (trial 64)
        c, assign = kmeans2(x, k, iter=iters, minit="++", missing="warn", seed=np.random.default_rng(seed))
    order = np.argsort(-np.bincount(assign, minlength=k), kind="stable")
    return c[order].astype(np.float32)


def load_default_priors(k: int = 200) -> np.ndarray:
    """The priors shipped as package data (``proposals/priors_<k>.txt``: k-means over the 26,782 ILSVRC 2013 DET
    val2 boxes; recompute with ``detect train priors``)."""
    name = f"priors_{k}.txt"
    try:
        text = resources.files("proposals").joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"no shipped priors for K={k} ({name}); make them with `detect train priors`")
    return np.loadtxt(text.splitlines(), dtype=np.float32, ndmin=2)


class MultiBox(nn.Module):
    """An Inception trunk (GoogLeNet's building blocks) → global pooling → K × 4 offsets and K confidence logits."""

    def __init__(self, config: MultiBoxConfig, priors: np.ndarray):
        super().__init__()
        if priors.shape != (config.num_priors, 4):
            raise ValueError(f"priors must be [{config.num_priors}, 4], got {tuple(priors.shape)}")
        self.config = config
        self.trunk = build_googlenet(num_classes=1, batch_norm=config.batch_norm, aux_logits=False,
                                     width=config.width)
        self.trunk.fc = nn.Identity()  # forward_head then returns pooled features, N x F
        self.trunk.dropout = nn.Identity()
        f = self.trunk.num_features
        self.loc = nn.Linear(f, config.num_priors * 4)
        self.conf = nn.Linear(f, config.num_priors)
        nn.init.zeros_(self.loc.weight)
        nn.init.zeros_(self.loc.bias)  # start at the priors
        nn.init.normal_(self.conf.weight, 0, 0.01)
        nn.init.constant_(self.conf.bias, -3.0)  # few boxes match: start with low confidence
        self.register_buffer("priors", torch.as_tensor(priors, dtype=torch.float32))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images N x 3 x S x S → (boxes N x K x 4 normalised xyxy, confidence logits N x K)."""
        feats = self.trunk.forward_head(self.trunk.forward_features(x))  # N x F
        loc = self.loc(feats).view(-1, self.config.num_priors, 4) + self.priors
        return loc, self.conf(feats)

    @torch.inference_mode()
    def propose(self, image: np.ndarray, top_k: int | None = None, device=None) -> tuple[np.ndarray, np.ndarray]:
        """One RGB uint8 image → (boxes [≤K, 4] pixel xyxy, scores) after NMS, best first, at most ``top_k``."""
        device = device or self.priors.device
        h, w = image.shape[:2]
        x = resize_square(normalize_image(image, self.config.mean, self.config.std, device), self.config.input_size)
        self.eval()
        loc, conf = self(x[None])
        boxes = loc[0] * torch.tensor([w, h, w, h], dtype=loc.dtype, device=loc.device)
        boxes = clip_boxes_to_image(boxes, (h, w))
        scores = torch.sigmoid(conf[0])
        ok = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
        boxes, scores = boxes[ok], scores[ok]
        keep = batched_nms(boxes, scores, torch.zeros_like(scores, dtype=torch.int64), self.config.nms_iou)
        if top_k is not None:
            keep = keep[:top_k]
        return boxes[keep].cpu().numpy().astype(np.float32), scores[keep].cpu().numpy().astype(np.float32)


def match(pred: np.ndarray, logits: np.ndarray, gt: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian matching of G ground-truth boxes to K predictions (K ≥ G) on the MultiBox loss: the cost of
    assigning ground truth j to prediction i is ``α · ½‖l_i − g_j‖² − log σ(c_i) + log(1 − σ(c_i))``.
    Returns (prediction indices, ground-truth indices)."""
    if len(gt) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    loc = alpha * 0.5 * ((pred[:, None, :] - gt[None, :, :]) ** 2).sum(-1)  # K x G
    # -log σ(c) + log(1 - σ(c)) = -c
    cost = loc - logits[:, None]
    rows, cols = linear_sum_assignment(cost)
    return rows.astype(np.int64), cols.astype(np.int64)


def multibox_loss(loc: Tensor, logits: Tensor, gts: list[Tensor], alpha: float) -> tuple[Tensor, dict]:
    """The MultiBox loss over a batch, averaged over images: ``F_conf + α F_loc`` (see the module docstring), and
    its two terms as they are summed — ``{"conf": F_conf, "loc": α F_loc}`` (floats), so that the loss is their sum
    (the training log records them: the numbers optimised).

    ``loc`` N x K x 4 and ``logits`` N x K from the network; ``gts``: per image, G x 4 normalised xyxy."""
    n, k = logits.shape
    targets = torch.zeros_like(logits)
    loc_terms = []
    for b in range(n):
        g = gts[b]
        if len(g) == 0:
            continue
        g = g[:k]  # more objects than outputs cannot all be matched
        rows, cols = match(loc[b].detach().cpu().numpy(), logits[b].detach().cpu().numpy(), g.cpu().numpy(),
                           alpha)
        rows_t = torch.as_tensor(rows, device=loc.device)
        targets[b, rows_t] = 1.0
        loc_terms.append(0.5 * ((loc[b, rows_t] - g[torch.as_tensor(cols, device=loc.device)]) ** 2).sum())
    conf = F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / n
    loc_loss = (torch.stack(loc_terms).sum() / n) if loc_terms else loc.sum() * 0
    loc_term = alpha * loc_loss
    return conf + loc_term, {"conf": float(conf.detach()), "loc": float(loc_term.detach())}


def read_trunk_file(path, config: "MultiBoxConfig") -> dict:
    """The weights (float) of the region-classifier member file ``path`` that can start the trunk of a MultiBox of
    ``config`` (:func:`init_trunk`), read and checked — also before any training image is read (trial 45: a wrong
    ``--init`` was refused only after every image was decoded). Raises :class:`CheckpointError` naming the file when
    it is no member file, or its network is not the paper architecture (with BatchNorm where ``config`` has it) at
    ``config``'s width."""
    path = Path(path)
    ckpt = read_checkpoint(path, CLASSIFIER_FORMAT)
    spec = ckpt.get("spec") if isinstance(ckpt.get("spec"), dict) else {}
    want = "paper-bn" if config.batch_norm else "paper"
    if spec.get("arch") != want or float(spec.get("width", -1)) != float(config.width):
        fix = (f": give --width {spec.get('width')}" if spec.get("arch") == want and spec.get("width") is not None
               else f": a {want} member is needed (`detect train distill --arch {want}`)" if spec.get("arch") else "")
        raise CheckpointError(f"{path}: its {spec.get('arch')} network of width {spec.get('width')} cannot "
                              f"initialise a MultiBox trunk ({want}, width {config.width}){fix}")
    try:
        return float_state(ckpt["state_dict"])
    except (KeyError, AttributeError) as e:
        raise CheckpointError(f"{path}: inconsistent model file: {inconsistent(e)}") from None


def init_trunk(model: MultiBox, path, state: dict | None = None) -> list[str]:
    """Start ``model``'s Inception trunk from the GoogLeNet of a region-classifier member file (e.g. the distilled
    trunk of ``detect train distill``): every backbone tensor but the classifiers and auxiliary heads. The member's
    network must be the paper architecture with BatchNorm (``paper-bn``) at the same width (without BatchNorm:
    ``batch_norm=False`` and ``paper``). Returns the trunk keys left at their initialisation; raises
    :class:`CheckpointError` naming the file when the file does not fit. ``state``: its weights as
    :func:`read_trunk_file` read them already (the file is then not read again)."""
    path = Path(path)
    if state is None:
        state = read_trunk_file(path, model.config)
    own = model.trunk.state_dict()
    usable = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    usable = {k: v for k, v in usable.items() if k in own and own[k].shape == v.shape}
    model.trunk.load_state_dict(usable, strict=False)
    missing = [k for k in own if k not in usable and not k.endswith("num_batches_tracked")]
    logger.info("MultiBox trunk initialised from %s (%d tensors); left at init: %s", path, len(usable),
                ", ".join(missing) or "none")
    return missing


def save_multibox(path, model: MultiBox, *, train: dict | None = None, extra: dict | None = None,
                  half: bool = False) -> Path:
    """One file, readable with ``torch.load(weights_only=True)``; ``extra`` adds resume state; ``half`` stores the
    weights (not the priors) as float16."""
    path = Path(path)
    state = {k: (v.half() if half and v.is_floating_point() and k != "priors" else v).detach().cpu()
             for k, v in model.state_dict().items()}
    ckpt = {"format": MULTIBOX_FORMAT, "config": model.config.to_dict(),
            "priors": model.priors.detach().cpu().clone(), "train": dict(train or {}),
            "state_dict": state, **(extra or {})}
    atomic_write(path, lambda f: torch.save(ckpt, f))
    return path


def load_multibox(path, device="cpu") -> tuple[MultiBox, dict]:
    """→ (model in eval mode, the whole checkpoint dict). A training run's resume state (``<stem>.state.ckpt`` of
    ``detect train multibox``: the MultiBox format, with the optimiser and the epoch added) is refused as
    ``--model`` refuses a classifier's, saying what it is: it holds the last epoch's weights, not the model file the
    run chose."""
    ckpt = read_checkpoint(path, MULTIBOX_FORMAT)  # CheckpointError is a ValueError
    if {"optimizer", "epoch"} <= ckpt.keys():
        raise CheckpointError(f"{path}: not a MultiBox model: it is the resume state of a `detect train multibox` "
                              "run (*.state.ckpt), which --resume reads: use the model file that run wrote (its --out)")
    try:
        config = MultiBoxConfig.from_dict(ckpt["config"])
    except KeyError:
        raise CheckpointError(f"{path}: not a usable MultiBox file: it has no 'config'") from None
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: malformed 'config' in this MultiBox file: {e}") from None
    try:
        priors = ckpt["priors"]
        if not isinstance(priors, torch.Tensor):
            raise TypeError(f"'priors' must be a tensor, got {type(priors).__name__}")
        model = MultiBox(config, priors.numpy())
        model.load_state_dict(float_state(ckpt["state_dict"]))
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:
        raise CheckpointError(f"{path}: inconsistent MultiBox file: {inconsistent(e)}") from None
    return model.eval().to(device), ckpt
