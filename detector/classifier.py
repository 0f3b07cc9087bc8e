"""Region classifiers: architecture settings, the builder, the checkpoint format and ensembles.

A checkpoint is one file per ensemble member, a plain dict of tensors, strings and numbers that
``torch.load(weights_only=True)`` reads (no arbitrary pickle)::

    {"format": "detect-classifier/1",
     "spec": {"arch": "paper-bn", "num_classes": 201, "input_size": 224, "mean": [...], "std": [...], ...},
     "classes": [{"id": 124, "wnid": "n00007846", "name": "person"}, ...],   # label k + 1; label 0 = background
     "train": {...},                                                         # training metadata
     "state_dict": {...}}                                                    # float32, or float16 when stored half

An ensemble is a list of such files, or a folder of them (``*.pt``, sorted by name).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from .checkpoint import CheckpointError, float_state, read_checkpoint
from .data.io import atomic_write
from .data.vocab import Category
from .inception import GoogLeNetOutputs, build_googlenet
from .regions import IMAGENET_MEAN, IMAGENET_STD, StoredConfig, WarpConfig

__all__ = ["ClassifierSpec", "build_classifier", "load_torchvision_weights", "save_member", "load_member",
           "read_checkpoint", "float_state",
           "Member", "load_ensemble", "ARCHS", "CHECKPOINT_FORMAT", "CheckpointError"]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "detect-classifier/1"
ARCHS = ("paper", "paper-bn", "torchvision")


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
    mode: str = "crops"  # crops: the paper's warped regions

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"unknown arch {self.arch!r}; expected one of {', '.join(ARCHS)}")
        if self.input_size < 96:
            raise ValueError(f"input_size must be at least 96, got {self.input_size}")

    @property
    def warp(self) -> WarpConfig:
        return WarpConfig(self.input_size, self.context_pad, tuple(self.mean), tuple(self.std))


class TorchvisionGoogLeNet(nn.Module):
    """torchvision's ``googlenet`` behind the same interface as :class:`detector.inception.GoogLeNet`."""

    def __init__(self, num_classes: int, aux_logits: bool):
        super().__init__()
        from torchvision.models import googlenet

        self.net = googlenet(weights=None, aux_logits=aux_logits, transform_input=False, init_weights=True,
                             num_classes=num_classes)
        self.num_features = self.net.fc.in_features

    def forward(self, x: Tensor):
        out = self.net(x)
        if isinstance(out, tuple):  # torchvision: (logits, aux_logits2, aux_logits1) in training
            return GoogLeNetOutputs(out[0], out[2], out[1])
        return out


class RegionClassifier(nn.Module):
    """A backbone giving class logits, with an optional class-specific box-regression head on its pooled
    features. ``forward`` returns logits (eval) or :class:`GoogLeNetOutputs` (training with auxiliary heads);
    ``forward_with_boxes`` also returns box deltas ``R x num_classes x 4``."""

    def __init__(self, backbone: nn.Module, num_classes: int, bbox_reg: bool):
        super().__init__()
        self.backbone = backbone
        self.bbox_pred = nn.Linear(backbone.num_features, num_classes * 4) if bbox_reg else None
        if self.bbox_pred is not None:
            nn.init.normal_(self.bbox_pred.weight, 0, 0.001)
            nn.init.zeros_(self.bbox_pred.bias)
        self._features: Tensor | None = None
        if bbox_reg:
            fc = backbone.net.fc if isinstance(backbone, TorchvisionGoogLeNet) else backbone.fc
            fc.register_forward_hook(self._keep_features)

    def _keep_features(self, module, inp, out):
        self._features = inp[0]

    def forward(self, x: Tensor):
        return self.backbone(x)

    def forward_with_boxes(self, x: Tensor):
        out = self.backbone(x)
        deltas = None
        if self.bbox_pred is not None:
            deltas = self.bbox_pred(self._features).view(x.shape[0], -1, 4)
        return out, deltas


def build_classifier(spec: ClassifierSpec) -> RegionClassifier:
    """A randomly initialised member for ``spec``."""
    if spec.arch == "torchvision":
        backbone = TorchvisionGoogLeNet(spec.num_classes, spec.aux_logits)
    else:
        backbone = build_googlenet(num_classes=spec.num_classes, batch_norm=spec.arch == "paper-bn",
                                   aux_logits=spec.aux_logits, width=spec.width)
    return RegionClassifier(backbone, spec.num_classes, spec.bbox_reg)


def load_torchvision_weights(model: RegionClassifier, path) -> list[str]:
    """Load torchvision ``googlenet`` ImageNet weights from a local ``.pth`` state dict into a ``torchvision``-arch
    member. The 1000-class classifiers (``fc``, ``aux*.fc2``) do not fit a detector's classes and are left at their
    initialisation; returns the keys left out."""
    path = Path(path)
    if not isinstance(model.backbone, TorchvisionGoogLeNet):
        raise CheckpointError(f"{path}: torchvision googlenet weights need --arch torchvision")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file
        raise CheckpointError(f"{path}: cannot read weights: {e}") from None
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


def save_member(path, model: RegionClassifier, spec: ClassifierSpec, classes, *, train: dict | None = None,
                half: bool = False) -> Path:
    """Write one ensemble member (atomically). ``classes``: the C classes (label k + 1), ``Category`` or dicts."""
    path = Path(path)
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}
    cls = [c.to_dict() if isinstance(c, Category) else dict(c) for c in classes]
    if len(cls) + 1 != spec.num_classes:
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


def _category(d: dict) -> Category:
    return Category(str(d["name"]), d.get("wnid") or None, d.get("id") if d.get("wnid") else None)


def load_member(path, device="cpu") -> Member:
    """Read one member file with ``torch.load(weights_only=True)``; eval mode, float32, on ``device``."""
    path = Path(path)
    ckpt = read_checkpoint(path, CHECKPOINT_FORMAT)
    try:
        spec = ClassifierSpec.from_dict(ckpt["spec"])
        classes = tuple(_category(c) for c in ckpt["classes"])
        model = build_classifier(spec)
        model.load_state_dict(float_state(ckpt["state_dict"]))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: inconsistent model file: {e}") from None
    model.eval().to(device)
    return Member(model, spec, classes, dict(ckpt.get("train") or {}), path)


def load_ensemble(paths, device="cpu") -> list[Member]:
    """Load members from files and/or folders (a folder contributes its ``*.pt`` files, sorted). All members must
    share one class list."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(p.glob("*.pt"))
            if not found:
                raise CheckpointError(f"{p}: no *.pt model files in this folder")
            files.extend(found)
        else:
            files.append(p)
    members = [load_member(f, device) for f in files]
    if not members:
        raise CheckpointError("no model given")
    keys = [c.key for c in members[0].classes]
    for m in members[1:]:
        if [c.key for c in m.classes] != keys:
            raise CheckpointError(f"{m.path}: its classes differ from {members[0].path}'s; an ensemble shares one "
                                  "class list")
    return members
