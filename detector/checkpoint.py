"""Reading the project's model files: plain dicts that ``torch.load(weights_only=True)`` accepts (no pickle)."""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["CheckpointError", "read_checkpoint", "float_state"]


class CheckpointError(ValueError):
    """A model file that cannot be used; the message names the file."""


def read_checkpoint(path, expected_format: str) -> dict:
    """``torch.load(weights_only=True)`` of a project model file whose ``format`` must be ``expected_format``;
    any problem becomes a :class:`CheckpointError` naming the file."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file
        raise CheckpointError(f"{path}: not a readable model file ({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != expected_format:
        raise CheckpointError(f"{path}: not a {expected_format} model file")
    return ckpt


def float_state(state: dict) -> dict:
    """A state dict with floating tensors as float32 (files may store float16)."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
