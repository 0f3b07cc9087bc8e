"""ONNX Runtime for crops-mode members on the CPU (``detect run --backend onnx``; ``pip install '.[onnx]'``).

A member is exported once per process (``torch.onnx.export``, dynamic batch) and run by ONNX Runtime's CPU provider,
which fuses GoogLeNet's convolutions, BatchNorm and ReLUs better than eager PyTorch does on this kind of CPU
(``benchmarks/bench_backends.py`` measures both and the largest difference in the softmax). Fast-mode members and
CUDA devices stay on PyTorch.
"""

from __future__ import annotations

import io
import warnings

import torch
from torch import Tensor, nn

__all__ = ["onnx_available", "OnnxRunner"]


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
            torch.onnx.export(_Export(model), (x,), buf, input_names=["regions"], output_names=names,
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
