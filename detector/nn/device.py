"""Where networks run: the device a ``--device`` option names, and bfloat16 autocast on CUDA."""

from __future__ import annotations

import contextlib

import torch

__all__ = ["resolve_device", "autocast"]


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cpu``, ``cuda``, ``cuda:N`` as torch reads them. Raises
    ``ValueError`` when CUDA is asked for and torch sees none."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device(device)


def autocast(device, enabled: bool = True):
    """bfloat16 autocast when ``enabled`` and ``device`` is a CUDA device (no gradient scaling is needed for
    bfloat16); else a context that does nothing. Never on the CPU: its bfloat16 kernels are slower here."""
    if enabled and torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
