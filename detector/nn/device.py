"""Where networks run: the device a ``--device`` option names, and bfloat16 autocast on CUDA."""

from __future__ import annotations

import contextlib

import torch

from ..data.io import count

__all__ = ["parse_device", "resolve_device", "autocast"]


class DeviceError(ValueError):
    """A device (``--device``, ``load_detector(device=…)``) that cannot be used; ``why``: what is wrong with it, in
    words that follow its name (``'gpu'`` → "not a device (auto, cpu, cuda or cuda:N)")."""

    def __init__(self, message: str, why: str | None = None):
        super().__init__(message)
        self.why = why if why is not None else message


def parse_device(device: str, *, what: str = "--device") -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N`` as a :class:`torch.device`, whether or not this machine has it (``auto`` is
    :func:`resolve_device`'s). Raises :class:`DeviceError` for any other string — torch also takes "mps", "meta",
    "xla", … (a crash, or a run of nothing but errors, later) and "cuda:-1" —, named as ``what``."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda") or (dev.index is not None and dev.index < 0) or (
            dev.type == "cpu" and dev.index not in (None, 0)):  # "cpu:5" names nothing more than cpu (trial 39)
        gpu = f": the GPU {device!r} is cuda:{device.strip()}" if isinstance(device, str) and device.strip().isdigit() \
            else ""  # Ultralytics' device=0 (trials 40, 41)
        why = f"not a device (auto, cpu, cuda or cuda:N){gpu}"
        raise DeviceError(f"{what} {device!r}: {why}", why)
    return dev


def resolve_device(device: str = "auto", *, what: str = "--device") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cpu``, ``cuda``, ``cuda:N`` as torch reads them. Raises
    :class:`DeviceError` (a ``ValueError``) when CUDA is asked for and torch sees none, or for a string that names
    no device, or a CUDA index beyond the cards torch sees; its message names the device as ``what`` (the option, or
    the API's keyword ``device``) and the value."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = parse_device(device, what=what)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"{what} {device!r} asked for, but torch sees no CUDA device")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        n = torch.cuda.device_count()
        raise DeviceError(f"{what} {device!r} asked for, but torch sees {count(n, 'CUDA device')}: "
                          + ("cuda:0" if n == 1 else f"cuda:0 to cuda:{n - 1}"))
    return dev


def autocast(device, enabled: bool = True):
    """bfloat16 autocast when ``enabled`` and ``device`` is a CUDA device (no gradient scaling is needed for
    bfloat16); else a context that does nothing. Never on the CPU: its bfloat16 kernels are slower here."""
    if enabled and torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
