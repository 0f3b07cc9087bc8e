"""R-CNN region warping of many boxes at once.

Each box is grown about its centre so that, once warped to ``size × size``, it carries ``context_pad`` pixels of
image context on every side (R-CNN: 16 px at 227, i.e. a scale of ``size / (size - 2 * context_pad)``), cropped,
resized bilinearly, with zeros outside the image — after mean/std normalisation, so "zero" is the mean colour, as in
R-CNN. Done as one ``torch.nn.functional.grid_sample`` call for a batch of boxes, not a loop of crops.

Shapes: R regions, S output size; the image is 3 x H x W.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

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

    Bilinear sampling at output-pixel centres (as ``roi_align`` with ``aligned=True`` and one sample per bin);
    samples outside the image blend with zeros. ``grid_sample`` does it for all regions at once (4.7 times as fast
    as ``roi_align`` over a zero-padded copy of the image on the CPU, the same values to 1e-4)."""
    r = boxes.shape[0]
    s = config.size
    if r == 0:
        return image.new_zeros((0, 3, s, s))
    boxes = expand_boxes(boxes.to(image.dtype), s, config.context_pad)
    h, w = image.shape[-2:]
    t = (torch.arange(s, dtype=image.dtype, device=image.device) + 0.5) / s  # bin centres, as fractions of a box
    xs = boxes[:, 0:1] + t * (boxes[:, 2:3] - boxes[:, 0:1])  # [R, S], continuous coordinates (pixel p spans p..p+1)
    ys = boxes[:, 1:2] + t * (boxes[:, 3:4] - boxes[:, 1:2])
    grid = torch.stack(torch.broadcast_tensors(xs[:, None, :] * (2 / w) - 1, ys[:, :, None] * (2 / h) - 1), dim=-1)
    return F.grid_sample(image[None].expand(r, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)


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
