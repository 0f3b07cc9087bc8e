"""R-CNN region warping of many boxes at once.

Each box is grown about its centre so that, once warped to ``size × size``, it carries ``context_pad`` pixels of
image context on every side (R-CNN: 16 px at 227, i.e. a scale of ``size / (size - 2 * context_pad)``), cropped,
resized bilinearly, with zeros outside the image — after mean/std normalisation, so "zero" is the mean colour, as in
R-CNN. Done as one ``torchvision.ops.roi_align`` call over a zero-padded image tensor, not a loop of crops.

Shapes: R regions, S output size; the image is 3 x H x W.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torchvision.ops import roi_align

from .nn.transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["WarpConfig", "expand_boxes", "warp_regions", "feature_rois"]


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


def feature_rois(boxes: Tensor, size: int, context_pad: int, map_size: int, stride: int, offset: float) -> Tensor:
    """The boxes to ``roi_align`` (``spatial_scale=1 / stride``, ``aligned=True``, ``map_size`` bins) on a feature map
    of the whole image so that the bins fall where the cells of the map of each warped region would.

    ``boxes``: xyxy [R, 4] in pixels of the image the map was computed from; the map's cells sit at
    ``offset + stride * z`` on its input (:func:`detector.nn.inception.map_geometry`), both for the image and for a
    ``size × size`` warped region, whose ``map_size`` cells cover crop pixels ``offset`` to
    ``offset + stride * map_size``. Each box is grown by the context (:func:`expand_boxes`), that span is carried
    from crop pixels into the image, and the image map's own ``offset`` is taken off."""
    b = expand_boxes(boxes, size, context_pad)
    per_px = torch.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], dim=1) / size  # image pixels per crop pixel
    start = b[:, :2] + offset * per_px - offset
    return torch.cat([start, start + stride * map_size * per_px], dim=1)
