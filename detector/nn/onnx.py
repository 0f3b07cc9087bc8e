"""Networks exported to ONNX Runtime for the CPU: the one export helper of the project (region classifiers in both
modes, :mod:`detector.onnx_backend`; the distillation teacher, :mod:`detector.distill`).

ONNX Runtime's CPU provider fuses GoogLeNet's convolutions, BatchNorm and ReLUs better than eager PyTorch does on this
kind of CPU (``benchmarks/bench_backends.py``). Its threads call the C library's ``rand()``, which OpenCV's selective
search uses to order its boxes: in a process holding a session, run selective search in a worker process.
"""

from __future__ import annotations

import io
import warnings
from typing import Sequence

import torch
from torch import Tensor, nn

__all__ = ["onnx_available", "onnx_session", "OPSET", "BACKENDS"]

# runtimes of a network on the CPU (detect run --backend, detect train distill --teacher-backend): auto = onnx when
# onnxruntime is installed, else torch
BACKENDS = ("auto", "onnx", "torch")

OPSET = 17  # ONNX opset of every export (ONNX Runtime >= 1.17 runs it)


def onnx_available() -> bool:
    """Whether ``onnxruntime`` can be imported (``pip install onnxruntime onnx``)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def onnx_session(module: nn.Module, example: Tensor, input_name: str, dynamic: dict[int, str],
                 output_names: Sequence[str], threads: int | None = None):
    """An ``onnxruntime.InferenceSession`` (CPU provider) of ``module`` traced on ``example`` (``torch.onnx.export``,
    TorchScript exporter, opset :data:`OPSET`), its input named ``input_name`` with the dynamic axes ``dynamic``
    (e.g. ``{0: "n"}``) and every output dynamic in its first axis. ``threads``: intra-op threads (None: torch's
    current number); one inter-op thread. ``module`` is put in eval mode: the export restores each submodule's mode
    afterwards from the wrapper's, so the wrapper itself must be in eval mode."""
    import onnxruntime as ort

    module.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buf, input_names=[input_name], output_names=list(output_names),
                          dynamic_axes={input_name: dynamic, **{n: {0: "n"} for n in output_names}},
                          opset_version=OPSET, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])
