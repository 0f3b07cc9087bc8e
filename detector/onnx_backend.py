"""ONNX Runtime for crops-mode members on the CPU (``detect run --backend onnx``; ``pip install '.[onnx]'``).

A member is exported once per process (``torch.onnx.export``, dynamic batch) and run by ONNX Runtime's CPU provider,
which fuses GoogLeNet's convolutions, BatchNorm and ReLUs better than eager PyTorch does on this kind of CPU
(``benchmarks/bench_backends.py`` measures both and the largest difference in the softmax). Fast-mode members run
their trunk and tail on it too (:class:`OnnxFastRunner`; ``roi_align`` stays in torchvision). CUDA devices stay on
PyTorch.

ONNX Runtime's threads call the C library's ``rand()``, which OpenCV's selective search uses to order its boxes: in a
process holding a session, run selective search in a worker process (``selective_search_many(workers=1)``) to keep
its order reproducible — ``detect run`` does.
"""

from __future__ import annotations

import io
import warnings

import torch
from torch import Tensor, nn

__all__ = ["onnx_available", "OnnxRunner", "OnnxFastRunner"]


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


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
        import onnxruntime as ort

        model = model.eval().float()
        self.bbox_reg = getattr(model, "bbox_pred", None) is not None
        x = torch.zeros(2, 3, input_size, input_size)
        buf = io.BytesIO()
        names = ["logits", "deltas"] if self.bbox_reg else ["logits"]
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            # eval() on the wrapper: export puts the module back into the wrapper's mode afterwards, recursively
            torch.onnx.export(_Export(model).eval(), (x,), buf, input_names=["regions"], output_names=names,
                              dynamic_axes={"regions": {0: "n"}, **{n: {0: "n"} for n in names}},
                              opset_version=17, dynamo=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])

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


def _session(module, example, input_name, dynamic, output_names, threads):
    import onnxruntime as ort

    module.eval()  # export restores the wrapper's mode on every submodule afterwards: it must be eval

    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buf, input_names=[input_name], output_names=output_names,
                          dynamic_axes={input_name: dynamic, **{n: {0: "n"} for n in output_names}},
                          opset_version=17, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])


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
        self.trunk = _session(_Trunk(model.backbone), torch.zeros(1, 3, 2 * s, 2 * s), "image",
                              {0: "n", 2: "h", 3: "w"}, ["features"], threads)
        pooled = torch.zeros(2, feats.shape[1], geo.size, geo.size)
        self.tail = _session(_Tail(model), pooled, "pooled", {0: "n"},
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
