"""Image transforms for training and detection, in one place: normalisation, the two resizes (Fast R-CNN's short side
for fast mode, MultiBox's square) and the photometric distortions of training.

Images reach here as RGB ``uint8`` H x W x 3 arrays (:func:`detector.data.images.load_image`) or float tensors
3 x H x W (N x 3 x H x W where said) in [0, 1]; normalised tensors are float32 ``(x - mean) / std``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "PHOTOMETRIC_RANGE", "normalize_image", "fast_scale", "resize_short_side",
           "resize_square", "photometric_distort", "color_jitter"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision ImageNet statistics, RGB in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)
PHOTOMETRIC_RANGE = (0.8, 1.2)  # factors of photometric_distort (our choice: ±20 %, milder than torchvision's ±40 %)


def normalize_image(image, mean=IMAGENET_MEAN, std=IMAGENET_STD, device=None) -> Tensor:
    """RGB ``uint8`` H x W x 3 (numpy) or a float tensor 3 x H x W or N x 3 x H x W in [0, 1] → normalised float32
    of the same layout as a tensor (3 x H x W for the array), on ``device`` (None: where it is)."""
    if isinstance(image, np.ndarray):
        if not image.flags.writeable:
            image = image.copy()
        # copy=True: a float32 array would otherwise be divided in place (from_numpy shares its memory)
        t = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1).to(torch.float32, copy=True)
        t = t.div_(255.0)
    else:
        t = image.to(device=device, dtype=torch.float32)
    m = torch.tensor(mean, dtype=t.dtype, device=t.device).view(3, 1, 1)
    s = torch.tensor(std, dtype=t.dtype, device=t.device).view(3, 1, 1)
    return (t - m) / s


def fast_scale(height: int, width: int, short_side: int, max_side: int) -> float:
    """Fast R-CNN's image scale: the short side to ``short_side``, less if the long side would pass ``max_side``."""
    return min(short_side / min(height, width), max_side / max(height, width))


FAST_MIN_SIDE = 32  # fast mode's smallest image side (our choice: the trunk's 5 halvings keep a cell)


def resize_short_side(image: Tensor, short_side: int, max_side: int) -> tuple[Tensor, tuple[float, float]]:
    """Fast mode's resize (Fast R-CNN): a (normalised) image 3 x H x W scaled by :func:`fast_scale`, bilinear,
    antialiased when shrinking → (3 x H' x W', (``W' / W``, ``H' / H``)): multiply xyxy boxes by ``(sx, sy, sx, sy)``
    to follow it. A side that comes out under :data:`FAST_MIN_SIDE` (a narrow strip under ``max_side``) is
    zero-padded at the bottom or right up to it — zero is the mean colour after normalisation, as for the padding of
    a batch — so that the trunk's pooling layers keep at least one cell; the scale factors are those of the image."""
    h, w = image.shape[-2:]
    s = fast_scale(h, w, short_side, max_side)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    out = F.interpolate(image[None], size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)[0]
    if nh < FAST_MIN_SIDE or nw < FAST_MIN_SIDE:
        out = F.pad(out, (0, max(0, FAST_MIN_SIDE - nw), 0, max(0, FAST_MIN_SIDE - nh)))
    return out, (nw / w, nh / h)


def resize_square(image: Tensor, size: int) -> Tensor:
    """MultiBox's resize: 3 x H x W → 3 x ``size`` x ``size``, bilinear, antialiased, the aspect not kept (Erhan et
    al. 2014 feed the whole image as one square)."""
    return F.interpolate(image[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0]


def _channel_mean(image, axis: int):
    if isinstance(image, np.ndarray):
        return image.mean(axis=axis, keepdims=True)
    return image.mean(dim=axis, keepdim=True)


def photometric_distort(image, rng: np.random.Generator, *, max_value: float, channel_axis: int = 0,
                        saturation: bool = True):
    """The photometric distortion of training (region classifier and MultiBox): brightness (a factor), contrast
    (about the image's mean) and, with ``saturation``, saturation (about each pixel's channel mean), each factor
    drawn from ``rng`` uniform in :data:`PHOTOMETRIC_RANGE` in that order, then clipped to ``[0, max_value]``.

    ``image``: a float numpy array or tensor with its channels on ``channel_axis`` (the region classifier: H x W x 3
    in [0, 255]; MultiBox: 3 x H x W in [0, 1], without saturation, as it was trained); returned as the same kind
    and dtype. Draws 2 numbers from ``rng`` (3 with ``saturation``)."""
    low, high = PHOTOMETRIC_RANGE
    image = image * rng.uniform(low, high)
    mean = image.mean()
    image = (image - mean) * rng.uniform(low, high) + mean
    if saturation:
        gray = _channel_mean(image, channel_axis)
        image = (image - gray) * rng.uniform(low, high) + gray
    return image.clip(0, max_value)


def color_jitter(view: Tensor, rng: np.random.Generator, strength: float) -> Tensor:
    """Distillation's colour jitter (torchvision's ``ColorJitter`` semantics, the usual augmentation of the
    ImageNet teachers it imitates): brightness, contrast and saturation factors uniform in ``[1 - strength,
    1 + strength]``, applied in a random order, saturation about the ITU-R 601 luma (as PIL), values clamped to
    [0, 1] after each step. ``view``: 3 x H x W in [0, 1]. Draws a permutation of 3, then 3 factors.

    It differs from :func:`photometric_distort` in order, grey and clipping, so the two are kept apart: merging them
    would change what the shipped models were trained on."""
    if strength <= 0:
        return view
    ops = rng.permutation(3)
    f = rng.uniform(1 - strength, 1 + strength, size=3)
    for o in ops:
        if o == 0:
            view = view * f[0]
        elif o == 1:
            view = (view - view.mean()) * f[1] + view.mean()
        else:
            gray = (0.299 * view[0] + 0.587 * view[1] + 0.114 * view[2])[None]  # ITU-R 601 luma, as PIL
            view = (view - gray) * f[2] + gray
        view = view.clamp(0, 1)
    return view
