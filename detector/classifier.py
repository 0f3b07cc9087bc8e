"""Region classifiers: architecture settings, the builder, the checkpoint format and ensembles.

A checkpoint is one file per ensemble member, a plain dict of tensors, strings and numbers that
``torch.load(weights_only=True)`` reads (no arbitrary pickle)::

    {"format": "detect-classifier/1",
     "spec": {"arch": "paper-bn", "num_classes": 201, "input_size": 224, "mean": [...], "std": [...], ...},
     "classes": [{"id": 124, "wnid": "n00007846", "name": "person"}, ...],   # label k + 1; label 0 = background
     "train": {...},                                                         # training metadata
     "state_dict": {...}}                                                    # float32, or float16 when stored half

An ensemble is a list of such files, or a folder of them (``*.pt``, sorted by name); each member runs in its
``spec.mode`` (they may differ: the bundled ensemble has one of each) and their class probabilities are averaged:

- ``crops`` (the paper, R-CNN): every region is warped to ``input_size²`` and runs through the whole network;
- ``fast`` (SPP-net / Fast R-CNN): the image, resized to a short side of ``fast_short_side``, runs through the trunk
  (to inception 4e) once; each region's features are pooled from that map (``roi_align``, as many cells as the map of
  an ``input_size`` crop has, where that crop's cells would fall) and only the tail (5a, 5b, pooling, classifier)
  runs per region. The same GoogLeNet weights serve both modes, so either initialises the other (``--init``).

Shapes: N images, R regions, K = C + 1 classes, P pooled cells (the 4e map size of an ``input_size`` crop).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import torch
from torch import Tensor, nn
from torchvision.ops import roi_align

from .data.imagenet import IMAGENET_CLASS_MAP, leaf_matrix
from .nn.imagenet_map import mapped_probabilities
from .data.io import atomic_write, file_sha256, model_files_in
from .data.vocab import Category
from .nn.checkpoint import (
    CLASSIFIER_FORMAT,
    MULTIBOX_FORMAT,
    CheckpointError,
    StoredConfig,
    float_state,
    inconsistent,
    load_error,
    what_it_holds,
    read_checkpoint,
)
from .nn.inception import GoogLeNetOutputs, MapGeometry, build_googlenet, map_geometry
from .nn.loop import stopped_run
from .nn.transforms import FAST_MIN_SIDE, IMAGENET_MEAN, IMAGENET_STD
from .regions import WarpConfig, feature_rois

__all__ = ["ClassifierSpec", "build_classifier", "load_torchvision_weights", "save_member", "load_member",
           "read_checkpoint", "float_state",
           "Member", "load_ensemble", "ARCHS", "CHECKPOINT_FORMAT", "CheckpointError", "MODES", "ImageBatch",
           "load_member_weights", "load_init_weights", "FAST_SAMPLING_RATIO", "read_spec", "class_map_of",
           "check_init_spec"]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = CLASSIFIER_FORMAT  # detector.nn.checkpoint names every model format
CLASS_MAPS = ("", IMAGENET_CLASS_MAP)
ARCHS = ("paper", "paper-bn", "torchvision")
MODES = ("crops", "fast")
FAST_SAMPLING_RATIO = 2  # roi_align samples per bin and axis in fast mode (torchvision's Faster R-CNN box pooler)


@dataclass(frozen=True)
class ClassifierSpec(StoredConfig):
    """Everything needed to rebuild a member and feed it regions."""

    arch: str = "paper-bn"  # paper | paper-bn | torchvision (torchvision's googlenet, for its ImageNet weights)
    num_classes: int = 201  # classes + background (label 0)
    input_size: int = 224  # paper: 224 × 224 crops
    context_pad: int = 16  # R-CNN: 16 px of context around each region at input scale
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    width: float = 1.0  # channel multiplier of the paper architectures (1.0 = Table 1)
    aux_logits: bool = True  # paper: auxiliary heads in training (weight 0.3), dropped at inference
    bbox_reg: bool = False  # class-specific box regression head (R-CNN), trained with the classifier
    mode: str = "crops"  # crops: the paper's warped regions; fast: features pooled from one pass per image (Fast
    #                      R-CNN); fast mode has no auxiliary heads, whatever aux_logits says
    fast_short_side: int = 600  # fast mode: images resized to this short side (Fast R-CNN: 600) ...
    fast_max_side: int = 1000  # ... unless the long side would pass this (Fast R-CNN: 1000)
    class_map: str = ""  # "": the network's outputs are background + the classes (R-CNN); "imagenet1k": its
    #                      outputs are the 1,000 ImageNet classes (num_classes 1000) and a class's probability is the
    #                      sum of its leaves' (detector.data.imagenet: the devkit's hierarchy), background the rest;
    #                      box regression is then class-agnostic

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"unknown arch {self.arch!r}; expected one of {', '.join(ARCHS)}")
        if self.input_size < 96:
            raise ValueError(f"input_size must be at least 96, got {self.input_size}")
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; expected one of {', '.join(MODES)}")
        if self.class_map not in CLASS_MAPS:
            raise ValueError(f"unknown class_map {self.class_map!r}; expected one of {', '.join(map(repr, CLASS_MAPS))}")
        if self.class_map and self.num_classes != 1000:
            raise ValueError(f"class_map {self.class_map!r} needs num_classes 1000, got {self.num_classes}")
        if self.fast_short_side < FAST_MIN_SIDE or self.fast_max_side < self.fast_short_side:
            raise ValueError(f"fast_short_side must be at least {FAST_MIN_SIDE} and fast_max_side at least "
                             f"fast_short_side, got {self.fast_short_side} and {self.fast_max_side}")

    @property
    def box_classes(self) -> int:
        """Rows of the box-regression head: one per output class, or one shared row (class-agnostic) when the
        outputs are mapped onto the classes."""
        return 1 if self.class_map else self.num_classes

    @property
    def warp(self) -> WarpConfig:
        return WarpConfig(self.input_size, self.context_pad, tuple(self.mean), tuple(self.std))


class TorchvisionGoogLeNet(nn.Module):
    """torchvision's ``googlenet`` behind the same interface as :class:`detector.nn.inception.GoogLeNet`."""

    def __init__(self, num_classes: int, aux_logits: bool):
        super().__init__()
        from torchvision.models import googlenet

        self.net = googlenet(weights=None, aux_logits=aux_logits, transform_input=False, init_weights=True,
                             num_classes=num_classes)
        self.num_features = self.net.fc.in_features

    def forward(self, x: Tensor, *, with_features: bool = False):
        """As :meth:`detector.nn.inception.GoogLeNet.forward` (torchvision's ``_forward``, its layers in its order)."""
        n = self.net
        x = n.maxpool2(n.conv3(n.conv2(n.maxpool1(n.conv1(x)))))
        x = n.inception4a(n.maxpool3(n.inception3b(n.inception3a(x))))
        aux1 = n.aux1(x) if n.aux1 is not None and self.training else None
        x = n.inception4d(n.inception4c(n.inception4b(x)))
        aux2 = n.aux2(x) if n.aux2 is not None and self.training else None
        pooled = self.forward_tail_pooled(n.inception4e(x))
        logits = self.classify(pooled)
        out = GoogLeNetOutputs(logits, aux1, aux2) if self.training and n.aux1 is not None else logits
        return (out, pooled) if with_features else out

    def forward_trunk(self, x: Tensor) -> Tensor:
        """Image → inception 4e map, N x 832 x H/16 x W/16 (torchvision's forward, cut there)."""
        n = self.net
        x = n.maxpool2(n.conv3(n.conv2(n.maxpool1(n.conv1(x)))))
        x = n.maxpool3(n.inception3b(n.inception3a(x)))
        for m in (n.inception4a, n.inception4b, n.inception4c, n.inception4d, n.inception4e):
            x = m(x)
        return x

    def forward_tail_pooled(self, x: Tensor) -> Tensor:
        """Inception 4e map → 5a, 5b → global average pooling: N x 1024."""
        n = self.net
        return torch.flatten(n.avgpool(n.inception5b(n.inception5a(n.maxpool4(x)))), 1)

    def classify(self, pooled: Tensor) -> Tensor:
        """Pooled features → dropout → logits."""
        return self.net.fc(self.net.dropout(pooled))

    def forward_tail(self, x: Tensor) -> Tensor:
        """Inception 4e map → 5a, 5b → global average pooling → dropout → logits."""
        return self.classify(self.forward_tail_pooled(x))

    def trunk_geometry(self, input_size: int) -> MapGeometry:
        n = self.net
        return map_geometry([n.conv1.conv, n.maxpool1, n.conv2.conv, n.conv3.conv, n.maxpool2, n.maxpool3],
                            input_size)


class ImageBatch(NamedTuple):
    """Fast-mode input: N normalised, resized images, zero-padded at the bottom and right to one size, and each
    image's boxes (xyxy [R_i, 4] in its resized pixels)."""

    images: Tensor  # N x 3 x H x W
    boxes: tuple[Tensor, ...]

    def to(self, device) -> ImageBatch:
        return ImageBatch(self.images.to(device), tuple(b.to(device) for b in self.boxes))


class RegionClassifier(nn.Module):
    """A backbone giving class logits, with an optional class-specific box-regression head on its pooled
    features. ``forward`` returns logits (eval) or :class:`GoogLeNetOutputs` (training with auxiliary heads);
    ``forward_with_boxes`` also returns box deltas ``R x num_classes x 4``, of warped regions or, in fast mode, of an
    :class:`ImageBatch` (:meth:`forward_fast`). ``input_size`` and ``context_pad`` place fast-mode regions."""

    def __init__(self, backbone: nn.Module, num_classes: int, bbox_reg: bool, *, input_size: int = 224,
                 context_pad: int = 16, box_classes: int | None = None):
        super().__init__()
        self.backbone = backbone
        self.num_classes = num_classes
        self.box_classes = num_classes if box_classes is None else box_classes
        self.input_size = input_size
        self.context_pad = context_pad
        self.bbox_pred = nn.Linear(backbone.num_features, self.box_classes * 4) if bbox_reg else None
        if self.bbox_pred is not None:
            nn.init.normal_(self.bbox_pred.weight, 0, 0.001)
            nn.init.zeros_(self.bbox_pred.bias)
    def forward(self, x: Tensor):
        return self.backbone(x)

    def forward_with_boxes(self, x: Tensor | ImageBatch):
        if isinstance(x, ImageBatch):
            return self.forward_fast(x.images, x.boxes)
        if self.bbox_pred is None:
            return self.backbone(x), None
        out, pooled = self.backbone(x, with_features=True)
        return out, self.bbox_pred(pooled).view(x.shape[0], -1, 4)

    def fast_rois(self, boxes: Sequence[Tensor]) -> Tensor:
        """``roi_align`` rows [R, 5] (image index, then :func:`detector.regions.feature_rois`) for one xyxy box
        tensor per image, in that image's (resized) pixels."""
        geo = self.backbone.trunk_geometry(self.input_size)
        return torch.cat([torch.cat([b.new_full((len(b), 1), float(k)),
                                     feature_rois(b, self.input_size, self.context_pad, *geo)], dim=1)
                          for k, b in enumerate(boxes)])

    def pool_regions(self, features: Tensor, rois: Tensor) -> Tensor:
        """Trunk map N x C x h x w and rows of :meth:`fast_rois` → R x C x P x P (aligned ``roi_align``, float32
        rows: under autocast torchvision pools in float32)."""
        geo = self.backbone.trunk_geometry(self.input_size)
        rois = rois.to(torch.promote_types(features.dtype, torch.float32))
        return roi_align(features, rois, output_size=geo.size, spatial_scale=1.0 / geo.stride,
                         sampling_ratio=FAST_SAMPLING_RATIO, aligned=True)

    def forward_fast(self, images: Tensor, boxes: Tensor | Sequence[Tensor], *, chunk: int | None = None):
        """Fast mode: ``images`` N x 3 x H x W (or 3 x H x W), normalised and resized; ``boxes`` one xyxy [R_i, 4]
        tensor per image in its pixels (or one tensor for one image). One trunk pass for the images, each region's
        P x P features pooled from the 4e map (:meth:`pool_regions`), then the tail on ``chunk`` regions at a time
        (all at once when None). Returns logits [R, K] and box deltas [R, K, 4] (None without box regression), in
        box order; the auxiliary heads are not used."""
        if images.dim() == 3:
            images = images[None]
        if isinstance(boxes, Tensor):
            boxes = [boxes]
        rois = self.fast_rois(boxes)  # R x 5
        r = rois.shape[0]
        if r == 0:
            deltas = images.new_zeros((0, self.box_classes, 4)) if self.bbox_pred is not None else None
            return images.new_zeros((0, self.num_classes)), deltas
        features = self.backbone.forward_trunk(images)  # N x C x H/16 x W/16
        step = chunk or r
        logits, deltas = [], []
        for s in range(0, r, step):
            pooled = self.backbone.forward_tail_pooled(self.pool_regions(features, rois[s : s + step]))  # B x F
            out = self.backbone.classify(pooled)  # B x K
            logits.append(out)
            if self.bbox_pred is not None:
                deltas.append(self.bbox_pred(pooled).view(out.shape[0], -1, 4))
        return torch.cat(logits), (torch.cat(deltas) if deltas else None)


def build_classifier(spec: ClassifierSpec) -> RegionClassifier:
    """A randomly initialised member for ``spec``."""
    aux = spec.aux_logits and spec.mode == "crops"  # the auxiliary heads read per-region 4a/4d maps: crops only
    if spec.arch == "torchvision":
        backbone = TorchvisionGoogLeNet(spec.num_classes, aux)
    else:
        backbone = build_googlenet(num_classes=spec.num_classes, batch_norm=spec.arch == "paper-bn",
                                   aux_logits=aux, width=spec.width)
    return RegionClassifier(backbone, spec.num_classes, spec.bbox_reg, input_size=spec.input_size,
                            context_pad=spec.context_pad, box_classes=spec.box_classes)


def load_torchvision_weights(model: RegionClassifier, path) -> list[str]:
    """Load torchvision ``googlenet`` ImageNet weights from a local ``.pth`` state dict into a ``torchvision``-arch
    member. The 1000-class classifiers (``fc``, ``aux*.fc2``) do not fit a detector's classes and are left at their
    initialisation; returns the keys left out."""
    path = Path(path)
    return _load_torchvision_state(model, _read_weights(path), path)


def _read_weights(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file
        raise CheckpointError(f"{path}: cannot read weights: {load_error(path, e)}") from None


def _load_torchvision_state(model: RegionClassifier, state, path: Path) -> list[str]:
    if not isinstance(model.backbone, TorchvisionGoogLeNet):
        raise CheckpointError(f"{path}: torchvision googlenet weights need --arch torchvision")
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    own = model.backbone.net.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    skipped = sorted(k for k in state if k not in usable)
    if not usable:
        raise CheckpointError(f"{path}: no tensor matches torchvision's googlenet (is it a googlenet state dict?)")
    missing = [k for k in own if k not in usable and not k.endswith("num_batches_tracked")]
    model.backbone.net.load_state_dict(usable, strict=False)
    logger.info("loaded %d tensors from %s; left at init: %s", len(usable), path, ", ".join(missing) or "none")
    return skipped


def _is_class_head(key: str) -> bool:
    """A tensor whose rows are classes: the classifiers (``fc``, the auxiliary ``fc2``) and the box regression."""
    parts = key.split(".")
    return parts[0] == "bbox_pred" or (len(parts) >= 2 and parts[-2] in ("fc", "fc2"))


def load_member_weights(model: RegionClassifier, spec: ClassifierSpec, path, classes=None) -> list[str]:
    """Start ``model`` (built for ``spec``) from the weights of one of our member files, of either mode (the
    GoogLeNet weights are the same in both). Arch and width must match. Left out (returned): tensors that ``model``
    lacks (the auxiliary heads, in fast mode) or has in another shape, and the classifiers and box regression when
    ``classes`` (``Category``) is given and differs from the file's."""
    path = Path(path)
    return _load_member_state(model, spec, read_checkpoint(path, CHECKPOINT_FORMAT), path, classes)


def _load_member_state(model: RegionClassifier, spec: ClassifierSpec, ckpt: dict, path: Path, classes) -> list[str]:
    other = read_spec(ckpt, path)
    try:
        state = float_state(ckpt["state_dict"])
        if other.class_map or spec.class_map:  # the heads are the 1,000 ImageNet leaves on both sides, or unusable
            same_classes = (other.class_map, other.num_classes) == (spec.class_map, spec.num_classes)
        else:
            same_classes = classes is None or [_category(c).key for c in ckpt["classes"]] == [c.key for c in classes]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{path}: inconsistent model file: {inconsistent(e)}") from None
    check_init_spec(other, spec, path)
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape
              and (same_classes or not _is_class_head(k))}
    skipped = sorted(k for k in state if k not in usable)
    missing = [k for k in own if k not in usable and not k.endswith("num_batches_tracked")]
    model.load_state_dict(usable, strict=False)
    logger.info("initialised from %s (%s mode) → %s mode; left out: %s; left at init: %s", path, other.mode,
                spec.mode, ", ".join(skipped) or "none", ", ".join(missing) or "none")
    return skipped


def check_init_spec(other: ClassifierSpec, spec: ClassifierSpec, path) -> None:
    """Raise :class:`CheckpointError` when a member file of ``other`` spec cannot initialise a ``spec`` network (its
    arch or width differ), saying which options to give."""
    if (other.arch, other.width) != (spec.arch, spec.width):
        raise CheckpointError(f"{path}: its {other.arch} network of width {other.width} cannot initialise a "
                              f"{spec.arch} network of width {spec.width} (give --arch {other.arch} --width "
                              f"{other.width}, and likely --input-size {other.input_size}, its region size)")


def class_map_of(path) -> str:
    """The ``class_map`` of one of our member files (``""``: none; also for ``None``, torchvision weights and
    any file that is not a member file): what ``detect train --class-map auto`` follows for ``--init``."""
    if path is None:
        return ""
    try:
        ckpt = read_checkpoint(path, CHECKPOINT_FORMAT)
    except CheckpointError:
        return ""
    return str((ckpt.get("spec") or {}).get("class_map") or "")


def load_init_weights(model: RegionClassifier, spec: ClassifierSpec, path, classes=None) -> list[str]:
    """``--init``: one of our member files (:func:`load_member_weights`, either mode) or torchvision googlenet
    ImageNet weights (:func:`load_torchvision_weights`, ``--arch torchvision``). Returns the keys left out."""
    path = Path(path)
    obj = read_init_file(path)
    if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
        return _load_member_state(model, spec, obj, path, classes)
    return _load_torchvision_state(model, obj, path)


def read_init_file(path):
    """The contents of an ``--init`` file for a region classifier — one of our member files or a torchvision
    googlenet state dict — read before any other work is done, so that a wrong file stops a training at once.
    Raises :class:`CheckpointError` naming the file and what it holds instead (another format, a resume state,
    no weights)."""
    path = Path(path)
    obj = _read_weights(path)
    if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
        return obj
    if isinstance(obj, dict) and isinstance(obj.get("format"), str):
        raise CheckpointError(f"{path}: a {obj['format']} file cannot initialise a region classifier")
    state = obj.get("state_dict") if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict) else obj
    if not (isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values())):
        raise CheckpointError(f"{path}: cannot initialise a region classifier: {what_it_holds(obj)} (--init takes "
                              "a model file of `detect train` or torchvision googlenet weights)")
    return obj


def save_member(path, model: RegionClassifier, spec: ClassifierSpec, classes, *, train: dict | None = None,
                half: bool = False, drop_aux: bool = False) -> Path:
    """Write one ensemble member (atomically). ``classes``: the C classes (label k + 1), ``Category`` or dicts.
    ``half``: float16 weights; ``drop_aux``: without the auxiliary heads (training only; the file then records
    ``aux_logits`` False and still initialises new training, whose heads start afresh)."""
    path = Path(path)
    if drop_aux:
        spec = dataclasses.replace(spec, aux_logits=False)
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in model.state_dict().items() if not (drop_aux and k.startswith(("backbone.aux1.",
                                                                                          "backbone.aux2.",
                                                                                          "backbone.net.aux1.",
                                                                                          "backbone.net.aux2.")))}
    cls = [c.to_dict() if isinstance(c, Category) else dict(c) for c in classes]
    if spec.class_map:
        if not all(c.get("id") for c in cls):
            raise ValueError(f"class_map {spec.class_map!r}: every class must be an ILSVRC DET class (have a det_id)")
    elif len(cls) + 1 != spec.num_classes:
        raise ValueError(f"{len(cls)} classes + background != num_classes {spec.num_classes}")
    ckpt = {"format": CHECKPOINT_FORMAT, "spec": spec.to_dict(), "classes": cls, "train": dict(train or {}),
            "state_dict": state}
    atomic_write(path, lambda f: torch.save(ckpt, f))
    return path


@dataclass(frozen=True, eq=False)
class Member:
    """One loaded ensemble member."""

    model: RegionClassifier
    spec: ClassifierSpec
    classes: tuple[Category, ...]  # label k + 1
    train: dict
    path: Path | None = None
    file_spec: ClassifierSpec | None = None  # the spec its file holds, when with_mode ran it otherwise; None: spec

    @property
    def own_spec(self) -> ClassifierSpec:
        """The spec of the member's file, before any :meth:`with_mode`."""
        return self.file_spec or self.spec

    @functools.cached_property
    def class_matrix(self) -> Tensor | None:
        """``spec.class_map`` members: float32 [1000, C + 1] from the network's outputs to the classes."""
        return torch.from_numpy(leaf_matrix(self.classes)) if self.spec.class_map else None

    def probabilities(self, logits: Tensor) -> Tensor:
        """The network's logits [N, num_classes] → probabilities [N, C + 1] of background and the classes (softmax;
        for ``class_map`` members the softmax summed over each class's ImageNet leaves), float32."""
        if self.spec.class_map:
            return mapped_probabilities(logits, self.class_matrix)
        return torch.softmax(logits.float(), dim=1)

    def with_mode(self, mode: str | None = None, *, fast_short_side: int | None = None,
                  fast_max_side: int | None = None) -> Member:
        """This member run in ``mode`` (None: its own) with the same weights, at the fast-mode image scale given
        (None: its own). A crops-trained member runs in fast mode from the same GoogLeNet weights — its auxiliary
        heads are simply not used — and a fast-mode member in crops mode. Raises ``ValueError`` for an unknown mode
        or scale (``ClassifierSpec``'s checks). In crops mode the fast-mode scale is not used and stays the file's."""
        mode = mode or self.spec.mode
        if mode == "crops":
            fast_short_side = fast_max_side = None
        short = self.spec.fast_short_side if fast_short_side is None else int(fast_short_side)
        long_ = self.spec.fast_max_side if fast_max_side is None else int(fast_max_side)
        if fast_short_side is not None or fast_max_side is not None:
            if short < FAST_MIN_SIDE or long_ < short:  # in the options' words (the spec's own check names its fields)
                raise ValueError(f"fast mode's scale: --fast-short-side {short} and --fast-max-side {long_} for "
                                 f"{self.path or 'this member'} (its own: {self.spec.fast_short_side} and "
                                 f"{self.spec.fast_max_side}); the short side must be at least {FAST_MIN_SIDE} "
                                 "and the long side's cap at least the short side")
        spec = dataclasses.replace(self.spec, mode=mode, fast_short_side=short, fast_max_side=long_)
        if spec == self.spec:
            return self
        return Member(self.model, spec, self.classes, self.train, self.path, self.own_spec)


def _category(d: dict) -> Category:
    return Category(str(d["name"]), d.get("wnid") or None, d.get("id") if d.get("wnid") else None)


def load_member(path, device="cpu") -> Member:
    """Read one member file with ``torch.load(weights_only=True)``; eval mode, float32, on ``device``."""
    path = Path(path)
    ckpt = read_checkpoint(path, CHECKPOINT_FORMAT)
    spec = read_spec(ckpt, path)
    try:
        classes = tuple(_category(c) for c in ckpt["classes"])
        model = build_classifier(spec)
        model.load_state_dict(float_state(ckpt["state_dict"]))
        train = dict(ckpt.get("train") or {})
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:
        raise CheckpointError(f"{path}: inconsistent model file: {inconsistent(e)}") from None
    model.eval().to(device)
    return Member(model, spec, classes, train, path)


def read_spec(ckpt: dict, path) -> ClassifierSpec:
    """The :class:`ClassifierSpec` of a member file's dict; a missing or malformed ``spec`` is a
    :class:`CheckpointError` naming the file and the field."""
    if "spec" not in ckpt:
        raise CheckpointError(f"{path}: not a usable model file: it has no 'spec'")
    try:
        return ClassifierSpec.from_dict(ckpt["spec"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: malformed 'spec' in this model file: {e}") from None


def _ensemble_listing(folder: Path) -> list[Path] | None:
    """The member files an ``ensemble.json`` in ``folder`` lists (``{"members": [{"member": k}, …]}``), or None when
    there is none or it cannot be read as one."""
    try:
        doc = json.loads((folder / "ensemble.json").read_text(encoding="utf-8"))
        names = [f"member{int(m['member'])}.pt" for m in doc["members"]]
        # a member's suffix in any case, as the folder's model files (trial 63: member0.PT beside its ensemble.json,
        # copied from another system, was "listed, which the folder lacks")
        files = {f.name.lower(): f for f in reversed(model_files_in(folder))}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [folder / n if (folder / n).is_file() else files.get(n, folder / n) for n in names]


def file_format(path: Path) -> str | None:
    """The ``format`` a project model file records, or None (not one, unreadable: its loading says why later)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - any unreadable file is reported when loaded as a member
        return None
    return ckpt.get("format") if isinstance(ckpt, dict) else None


def _member_digest(member: Member) -> str:
    """SHA-256 of a member's spec (its mode and scales: the same weights run in another mode are another member) and
    its network's parameters and buffers (names, shapes and values rounded to float16, in state-dict order): the
    same for two files of one model whatever else they hold (the training record), also when one stores them as
    float16 (`train --half` writes ``--out`` so and ``<stem>.last.ckpt`` as float32: :func:`detector.nn.loop.
    stored_half`)."""
    h = hashlib.sha256(json.dumps(member.spec.to_dict(), sort_keys=True).encode())
    for name, t in member.model.state_dict().items():
        h.update(f"{name}{tuple(t.shape)}".encode())
        t = t.detach().to("cpu", torch.float16 if t.is_floating_point() else t.dtype)
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def member_files(paths) -> list[Path]:
    """The member files of ``paths`` (files and/or folders; a folder contributes its ``*.pt`` files,
    :func:`model_files_in`, MultiBox files not named ``member*.pt`` left out with a warning — or, when it holds the
    ``ensemble.json`` that ``detect train ensemble`` writes last, the members that file lists), in order. Raises
    :class:`CheckpointError` for a folder without any, or whose ``ensemble.json`` names a missing member."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = model_files_in(p)
            listed = _ensemble_listing(p)
            multibox = []
            if listed is not None:  # a leftover member*.pt of an earlier, larger ensemble is not one of them
                missing = [f.name for f in listed if not f.is_file()]
                if missing:
                    raise CheckpointError(f"{p / 'ensemble.json'} lists {', '.join(missing)}, which the folder lacks")
                left = [f.name for f in found if f not in listed]
                if left:
                    logger.warning("%s: %s not among the members its ensemble.json lists: left out (to use "
                                   "it, add it to that list, or give it as another --model)", p, ", ".join(left))
                found = listed
            else:  # a MultiBox file beside the members (the GPU session's output folder) is no member; the
                # member*.pt that training and bundling write are not opened twice at start-up to tell
                multibox = [f for f in found if not f.name.startswith("member")
                            and file_format(f) == MULTIBOX_FORMAT]
                if multibox:
                    logger.warning("%s: %s left out: a MultiBox proposal network, not a region classifier (such a "
                                   "file is given with --multibox)", p, ", ".join(f.name for f in multibox))
                    found = [f for f in found if f not in multibox]
            pth = sorted(f.name for f in p.iterdir() if f.suffix.lower() == ".pth" and f.is_file())
            if found and pth:  # trial 65: a member0.pth beside member1.pt was left out without a word
                logger.warning("%s: %s left out: a folder's model files are its *.pt (give such a file as another "
                               "--model, or rename it to .pt)", p, ", ".join(pth))
            if not found:
                raise CheckpointError(f"{p}: no region-classifier model file (*.pt) in this folder" + (
                    " (only a MultiBox proposal network: give it with --multibox)" if listed is None and multibox
                    else f" (it holds {', '.join(pth[:3])}{', …' if len(pth) > 3 else ''}: a folder's model files "
                         f"are its *.pt — give such a file itself ({p / pth[0]}), or rename it to .pt)"
                    if pth else ""))
            files.extend(found)
        else:
            files.append(p)
    for f in files:
        if (stopped := stopped_run(f)) is not None:  # a member of a training that was stopped (SIGTERM, Ctrl-C)
            logger.warning("%s is the model of a training stopped after %d of its %d epochs (resume it with "
                           "--resume)", f, *stopped)
    return files


def load_ensemble(paths, device="cpu", *, mode: str | None = None, fast_short_side: int | None = None,
                  fast_max_side: int | None = None, prefer_mode: str | None = None) -> list[Member]:
    """Load members from files and/or folders (a folder contributes its ``*.pt`` files, sorted). Without ``mode``
    each runs in its own mode — an ensemble may mix crops-mode and fast-mode members (the bundled one does), whose
    class probabilities are averaged region by region all the same. With ``mode``, an ensemble that has members
    trained in that mode runs those alone (a member is poor in the mode it was not trained for: README, "Fast mode");
    one that has none runs all of its members in it (:meth:`Member.with_mode`). ``prefer_mode`` (without ``mode``;
    a preset's choice, ``detect run --preset fast``): the members trained in that mode run alone if there are any,
    else every member runs in its own mode — never converted. All members must share one class list; a file given
    twice (itself, through a folder, a link or a copy: the same bytes; or another file of the same weights) is
    refused."""
    files = member_files(paths)
    seen: dict[str, Path] = {}
    for f in files:  # one file twice would double its weight in the average (and its cost): by content, so that a
        # link, a hard link or a copy count as the same member
        first = seen.setdefault(file_sha256(f) if f.is_file() else os.path.realpath(f), f)
        if first is not f:
            raise CheckpointError(f"{f}: given twice as an ensemble member" + (
                f" (also as {first}: the same bytes)" if str(first) != str(f) else ""))
    members = [load_member(f, device) for f in files]
    by_weights: dict[str, Member] = {}
    for m in members:  # other bytes, the same weights: a training's --out and its .last.ckpt (trial 54)
        first = by_weights.setdefault(_member_digest(m), m)
        if first is not m:
            raise CheckpointError(f"{m.path}: holds the same weights and settings as {first.path} (two files of one "
                                  "model, such as a training's --out and its .last.ckpt?): an ensemble member given "
                                  "twice would double its weight in the average")
    wanted = mode or prefer_mode  # either way the members trained in it run alone; only --mode converts the rest
    own = [m for m in members if m.spec.mode == wanted]
    if own and len(own) < len(members):
        logger.info("mode %s: the ensemble's %d member(s) trained in it run, %s left out", wanted, len(own),
                    ", ".join(str(m.path) for m in members if m not in own))
        members = own
    members = [m.with_mode(mode, fast_short_side=fast_short_side, fast_max_side=fast_max_side) for m in members]
    if not members:
        raise CheckpointError("no model given")
    keys = [c.key for c in members[0].classes]
    for m in members[1:]:
        if [c.key for c in m.classes] != keys:
            raise CheckpointError(f"{m.path}: its classes differ from {members[0].path}'s; an ensemble shares one "
                                  "class list")
    return members
