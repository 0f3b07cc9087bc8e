"""The project's model files: plain dicts that ``torch.load(weights_only=True)`` accepts (no pickle), and the
frozen config dataclasses stored in them (:class:`StoredConfig`). Every model format of the project
(``detect-classifier/1``, ``detect-multibox/1``) is read through :func:`read_checkpoint`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

__all__ = ["CheckpointError", "read_checkpoint", "float_state", "StoredConfig"]


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
