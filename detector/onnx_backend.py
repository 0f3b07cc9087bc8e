"""Region classifiers on ONNX Runtime (``detect run --backend onnx``, the CPU default): crops-mode members as one
session (:class:`OnnxRunner`), fast-mode members as two — the trunk and the tail — with ``roi_align`` between them in
torchvision (:class:`OnnxFastRunner`). Each member is exported once per process by
:func:`detector.nn.onnx.onnx_session`. CUDA devices stay on PyTorch.

ONNX Runtime's threads call the C library's ``rand()``, which OpenCV's selective search uses to order its boxes: in a
process holding a session, run selective search in a worker process (``selective_search_many(workers=1)``) to keep
its order reproducible — ``detect run`` does.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .nn.onnx import onnx_session

__all__ = ["OnnxRunner", "OnnxFastRunner"]


class _Export(nn.Module):
    """Regions → logits (and box deltas when the member regresses boxes), as one traced graph."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        logits, deltas = self.model.forward_with_boxes(x)
        return (logits,) if deltas is None else (logits, deltas)


class OnnxRunner:
    """Callable ``regions [B, 3, S, S] → (logits [B, K], deltas [B, K, 4] or None)`` on ONNX Runtime."""

    def __init__(self, model, input_size: int, threads: int | None = None):
        model = model.eval().float()
        self.bbox_reg = getattr(model, "bbox_pred", None) is not None
        names = ["logits", "deltas"] if self.bbox_reg else ["logits"]
        self.session = onnx_session(_Export(model), torch.zeros(2, 3, input_size, input_size), "regions", {0: "n"},
                                    names, threads)

    def __call__(self, regions: Tensor) -> tuple[Tensor, Tensor | None]:
        out = self.session.run(None, {"regions": regions.detach().float().contiguous().numpy()})
        logits = torch.from_numpy(out[0])
        return logits, (torch.from_numpy(out[1]) if self.bbox_reg else None)


class _Trunk(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return self.backbone.forward_trunk(x)


class _Tail(nn.Module):
    """Pooled 4e features → logits (and box deltas): the backbone's ``forward_tail_pooled`` and ``classify``."""

    def __init__(self, model):
        super().__init__()
        self.backbone, self.bbox_pred = model.backbone, model.bbox_pred

    def forward(self, p):
        feats = self.backbone.forward_tail_pooled(p)
        logits = self.backbone.classify(feats)
        if self.bbox_pred is None:
            return (logits,)
        return logits, self.bbox_pred(feats).view(p.shape[0], -1, 4)


class OnnxFastRunner:
    """Fast mode on ONNX Runtime: the trunk (any image size) and the tail (any number of regions) as two sessions;
    ``roi_align`` between them stays in torchvision. Only for the paper architectures (``GoogLeNet``)."""

    def __init__(self, model, threads: int | None = None):
        model = model.eval().float()
        self.model = model
        self.bbox_reg = model.bbox_pred is not None
        s = model.input_size
        geo = model.backbone.trunk_geometry(s)
        with torch.no_grad():
            feats = model.backbone.forward_trunk(torch.zeros(1, 3, s, s))
        self.trunk = onnx_session(_Trunk(model.backbone), torch.zeros(1, 3, 2 * s, 2 * s), "image",
                                  {0: "n", 2: "h", 3: "w"}, ["features"], threads)
        pooled = torch.zeros(2, feats.shape[1], geo.size, geo.size)
        self.tail = onnx_session(_Tail(model), pooled, "pooled", {0: "n"},
                                 ["logits", "deltas"] if self.bbox_reg else ["logits"], threads)

    def __call__(self, image: Tensor, boxes: Tensor, chunk: int | None = None):
        """Normalised, resized image 3 x H x W and its boxes [R, 4] → (logits [R, K], deltas or None)."""
        model = self.model
        rois = model.fast_rois([boxes])
        r = rois.shape[0]
        if r == 0:
            return torch.zeros((0, model.num_classes)), (torch.zeros((0, model.box_classes, 4)) if self.bbox_reg
                                                           else None)
        features = torch.from_numpy(self.trunk.run(None, {"image": image[None].float().contiguous().numpy()})[0])
        step = chunk or r
        logits, deltas = [], []
        for s in range(0, r, step):
            pooled = model.pool_regions(features, rois[s : s + step])
            out = self.tail.run(None, {"pooled": pooled.contiguous().numpy()})
            logits.append(torch.from_numpy(out[0]))
            if self.bbox_reg:
                deltas.append(torch.from_numpy(out[1]))
        return torch.cat(logits), (torch.cat(deltas) if self.bbox_reg else None)
