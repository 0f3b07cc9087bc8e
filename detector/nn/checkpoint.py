"""The project's model files: plain dicts that ``torch.load(weights_only=True)`` accepts (no pickle), and the
frozen config dataclasses stored in them (:class:`StoredConfig`). Every model format of the project
(:data:`CLASSIFIER_FORMAT`, :data:`MULTIBOX_FORMAT`: named here, once) is read through :func:`read_checkpoint`."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import torch

from ..data.io import binary_kind, decode_text

__all__ = ["CheckpointError", "read_checkpoint", "load_error", "FORMATS", "CLASSIFIER_FORMAT", "MULTIBOX_FORMAT",
           "inconsistent", "float_state", "StoredConfig"]

CLASSIFIER_FORMAT = "detect-classifier/1"  # a region-classifier member file (detector.classifier)
MULTIBOX_FORMAT = "detect-multibox/1"  # a MultiBox proposal network (proposals.multibox)


class CheckpointError(ValueError):
    """A model file that cannot be used; the message names the file."""


def read_checkpoint(path, expected_format: str) -> dict:
    """``torch.load(weights_only=True)`` of a project model file whose ``format`` must be ``expected_format``;
    any problem becomes a :class:`CheckpointError` naming the file and saying what the file is instead (empty, text,
    not a PyTorch file, a damaged one, another kind of model file, a training state)."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: a folder, not a model file") from None
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file
        raise CheckpointError(f"{path}: not a model file: {load_error(path, e)}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != expected_format:
        raise CheckpointError(f"{path}: not a {expected_format} model file: {what_it_holds(ckpt)}")
    return ckpt


# what each format of the project is, for messages about a file of another format than the one expected
FORMATS = {CLASSIFIER_FORMAT: "a region classifier (detect run --model)",
           MULTIBOX_FORMAT: "a MultiBox proposal network (--multibox)"}
_ZIP = b"PK\x03\x04"  # torch.save's archive


def load_error(path, error: Exception) -> str:
    """Why ``torch.load`` could not read the file at ``path`` (it raised ``error``), in words: an empty file, a text
    file (its first characters), a damaged PyTorch file, one holding Python objects that are not loaded, or not a
    PyTorch file at all."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError as e:
        return f"cannot be read: {e.strerror or e}"
    first = str(error).strip().split("\n")[0].split(". ")[0][:160]  # torch's first sentence
    if not head:
        return "the file is empty (0 bytes)"
    if head.startswith(_ZIP):
        if isinstance(error, pickle.UnpicklingError):
            return ("a PyTorch file holding Python objects other than tensors and plain data, which are not loaded "
                    "(this project's model files hold none)")
        return f"a damaged or incomplete PyTorch file, or a zip archive of another kind ({first})"
    text = _text_start(head)
    if text is not None:
        return f"a text file (it begins {text!r})"
    kind = binary_kind(head)
    return f"not a PyTorch file ({kind})" if kind else "not a PyTorch file, nor text"


def _text_start(head: bytes) -> str | None:
    """The start of the first line of ``head`` (a file's first bytes) when they are text
    (:func:`detector.data.io.decode_text`), else None."""
    for cut in range(4):  # the window may end inside a character
        try:
            text = decode_text(head[:len(head) - cut])
        except UnicodeDecodeError:
            continue
        if all(c.isprintable() or c in "\t\r\n\ufeff" for c in text):
            return (text.lstrip("\ufeff").strip().splitlines() or [""])[0][:40]
        return None
    return None


def what_it_holds(ckpt) -> str:
    """What a file that ``torch.load`` read but that has not the expected format holds instead."""
    if not isinstance(ckpt, dict):
        return f"it holds a {type(ckpt).__name__}, not a model's dict"
    fmt = ckpt.get("format")
    if {"optimizer", "epoch"} <= ckpt.keys():  # before the format: a MultiBox run's state keeps its format too
        of = f" ({FORMATS[fmt].split(' (')[0]})" if isinstance(fmt, str) and fmt in FORMATS else ""
        return (f"it is the resume state of a training run{of} (*.state.ckpt), not a model: use the model file that "
                "run wrote")
    if isinstance(fmt, str):
        return f"it is a {fmt} file" + (f", {FORMATS[fmt]}" if fmt in FORMATS else "")
    if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return "it holds bare weights (a state dict) without the model's settings"
    keys = ", ".join(repr(k) for k in list(ckpt)[:6]) + (", …" if len(ckpt) > 6 else "")
    return f"it has no 'format' field (its keys: {keys or 'none'})"


def inconsistent(e: Exception) -> str:
    """What is wrong in a model file whose dict could not be used (``e``, raised while reading it), for
    ``PATH: inconsistent model file: …``: ``missing 'key'`` for a ``KeyError``, else the exception's type and text."""
    return f"missing {e}" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}"


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
