"""R-CNN region warping of many boxes at once.

Each box is grown about its centre so that, once warped to ``size × size``, it carries ``context_pad`` pixels of
image context on every side (R-CNN: 16 px at 227, i.e. a scale of ``size / (size - 2 * context_pad)``), cropped,
resized bilinearly, with zeros outside the image — after mean/std normalisation, so "zero" is the mean colour, as in
R-CNN. Done as one ``torchvision.ops.roi_align`` call over a zero-padded image tensor, not a loop of crops.

Shapes: R regions, S output size; the image is 3 x H x W.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torchvision.ops import roi_align

__all__ = ["WarpConfig", "expand_boxes", "normalize_image", "warp_regions", "IMAGENET_MEAN", "IMAGENET_STD",
           "StoredConfig", "fast_scale", "resize_image", "feature_rois"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision ImageNet statistics, RGB in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)


class StoredConfig:
    """Mixin for frozen config dataclasses stored in checkpoints: plain dicts out (tuples as lists), and back in with
    unknown keys ignored (files written by newer versions still load) and ``mean``/``std`` as float tuples.

    :meth:`from_dict` reads what a file says, so it checks each known value against the type of its field's default
    (an int field takes an integer, a float field a number, a bool field true/false, a str field text, a tuple
    field a list of as many numbers) and raises ``TypeError`` naming the field and the value otherwise."""

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict):
        if not isinstance(d, dict):
            raise TypeError(f"expected a mapping of settings, got {type(d).__name__} {_short(d)}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in fields}
        for k, v in kw.items():
            kw[k] = _checked(k, v, fields[k].default)
        return cls(**kw)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _checked(name: str, value, default):
    """``value`` read from a file for a field whose default is ``default``, checked (and tuples made tuples)."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float):
        ok, kind = number(value), "a number"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "text"
    elif isinstance(default, tuple):
        ok = isinstance(value, (list, tuple)) and len(value) == len(default) and all(number(v) for v in value)
        kind = f"a list of {len(default)} numbers"
        if ok:
            value = tuple(float(v) for v in value)
    else:
        return value
    if not ok:
        raise TypeError(f"{name} must be {kind}, got {_short(value)}")
    return value


@dataclass(frozen=True)
class WarpConfig:
    size: int = 224  # GoogLeNet input (R-CNN: 227 for AlexNet)
    context_pad: int = 16  # R-CNN: 16 px of context at output scale on each side
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD


def expand_boxes(boxes: Tensor, size: int, context_pad: int) -> Tensor:
    """Scale xyxy ``boxes`` [R, 4] about their centres by ``size / (size - 2 * context_pad)``."""
    if context_pad <= 0:
        return boxes
    scale = size / (size - 2 * context_pad)
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) / 2 * scale
    return torch.cat([c - half, c + half], dim=1)


def normalize_image(image, mean=IMAGENET_MEAN, std=IMAGENET_STD, device=None) -> Tensor:
    """RGB ``uint8`` H x W x 3 (numpy) or a 3 x H x W float tensor in [0, 1] → normalised float32 3 x H x W."""
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


def warp_regions(image: Tensor, boxes: Tensor, config: WarpConfig = WarpConfig()) -> Tensor:
    """Warp ``boxes`` (xyxy, [R, 4], image pixels) of a normalised image ``3 x H x W`` → ``R x 3 x S x S``.

    Bilinear sampling at output-pixel centres (``roi_align`` with ``aligned=True``, one sample per bin); samples
    outside the image read zeros."""
    r = boxes.shape[0]
    s = config.size
    if r == 0:
        return image.new_zeros((0, 3, s, s))
    boxes = expand_boxes(boxes.to(image.dtype), s, config.context_pad)
    h, w = image.shape[-2:]
    # zero padding so that every sample outside the image reads 0 (roi_align would clamp to the border)
    lo = torch.clamp(-boxes.min(), min=0)
    hi = torch.clamp(torch.max(boxes[:, 2].max() - w, boxes[:, 3].max() - h), min=0)
    pad = int(torch.ceil(torch.max(lo, hi)).item()) + 2
    padded = torch.nn.functional.pad(image, (pad, pad, pad, pad))
    rois = torch.cat([boxes.new_zeros((r, 1)), boxes + pad], dim=1)
    return roi_align(padded[None], rois, output_size=(s, s), spatial_scale=1.0, sampling_ratio=1, aligned=True)


def fast_scale(height: int, width: int, short_side: int, max_side: int) -> float:
    """Fast R-CNN's image scale: the short side to ``short_side``, less if the long side would pass ``max_side``."""
    return min(short_side / min(height, width), max_side / max(height, width))


def resize_image(image: Tensor, short_side: int, max_side: int) -> tuple[Tensor, tuple[float, float]]:
    """Resize a (normalised) image ``3 x H x W`` by :func:`fast_scale` (bilinear, antialiased when shrinking) →
    (``3 x H' x W'``, (``W' / W``, ``H' / H``)): multiply xyxy boxes by ``(sx, sy, sx, sy)`` to follow it."""
    h, w = image.shape[-2:]
    s = fast_scale(h, w, short_side, max_side)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    out = torch.nn.functional.interpolate(image[None], size=(nh, nw), mode="bilinear", align_corners=False,
                                          antialias=True)[0]
    return out, (nw / w, nh / h)


def feature_rois(boxes: Tensor, size: int, context_pad: int, map_size: int, stride: int, offset: float) -> Tensor:
    """The boxes to ``roi_align`` (``spatial_scale=1 / stride``, ``aligned=True``, ``map_size`` bins) on a feature map
    of the whole image so that the bins fall where the cells of the map of each warped region would.

    ``boxes``: xyxy [R, 4] in pixels of the image the map was computed from; the map's cells sit at
    ``offset + stride * z`` on its input (:func:`detector.inception.map_geometry`), both for the image and for a
    ``size × size`` warped region, whose ``map_size`` cells cover crop pixels ``offset`` to
    ``offset + stride * map_size``. Each box is grown by the context (:func:`expand_boxes`), that span is carried
    from crop pixels into the image, and the image map's own ``offset`` is taken off."""
    b = expand_boxes(boxes, size, context_pad)
    per_px = torch.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], dim=1) / size  # image pixels per crop pixel
    start = b[:, :2] + offset * per_px - offset
    return torch.cat([start, start + stride * map_size * per_px], dim=1)
