"""Python API: ``detect run``'s detector in a few lines, called as torchvision's detection models are.

    from detector.api import load_detector

    det = load_detector()                         # the bundled model, the paper's path (detect run's defaults)
    out = det("photo.jpg")                        # {"boxes": float32 [D, 4] xyxy pixels, "scores": [D], "labels": [D]}
    names = [det.categories[int(k)] for k in out["labels"]]
    outs = det(["a.jpg", pil_image, array])       # a list: one dict per image, in order

:func:`load_detector` takes ``detect run``'s options by their keyword names (``preset="fast"``, ``nms="greedy"``,
``proposals="both"``, ``max_proposals=500`` …) with the same defaults and presets (:func:`detector.engines.apply_preset`
and :func:`detector.engines.config_from_options`, which the command uses too), and the same bundled models; the
detections of an image file equal the command's (before its rounding to 0.01 px and 1e-5 in ``boxes.json``).
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from proposals.merge import MAX_MULTIBOX_TOP
from proposals.proposers import PROPOSERS, beyond_k_warning, propose_many
from proposals.selective_search import MAX_RESIZE_WIDTH as SS_MAX_RESIZE_WIDTH
from proposals.selective_search import MAX_SCALE as SS_MAX_SCALE
from proposals.selective_search import MIN_SCALE as SS_MIN_SCALE
from proposals.selective_search import MODES as SS_MODES

from . import OMP_LATE
from .classifier import MODES, Member, load_ensemble
from .data.images import ImageError, as_rgb, eight_bit
from .data.vocab import select_classes
from .engines import (PRESETS, DetectionJob, RunConfig, apply_preset, bundled_model_files, config_from_options,
                      default_options, unused_options)
from .nn.device import resolve_device
from .nn.onnx import BACKENDS
from .nn.transforms import FAST_MIN_SIDE
from .pipeline import MAX_REFINE, NMS_KINDS, Detections, Detector, detect_each

__all__ = ["load_detector", "ImageDetector"]

# keyword names that differ from the option dictionary's (detect run --proposals, --multibox)
_KEYWORDS = {"proposals": "method", "multibox": "multibox_path"}
_NOT_HERE = {"draw_dir", "draw_threshold"}  # detect run's pictures: a file job's by-product, not the API's

# What detect run's option types (cli/run_cmd.py) accept, by option name: a value the command refuses as a usage error
# is a ValueError of load_detector, before any model is loaded — not an error blamed on the first image, nor a value
# run as it comes (max_proposals=-5, score_threshold=2). None, where the default is None: the model's own.
_INTS = {"max_proposals": (1, None), "multibox_top": (1, MAX_MULTIBOX_TOP), "max_detections": (1, None),
         "refine": (0, MAX_REFINE), "batch_size": (1, None), "image_batch": (1, None), "decode_threads": (0, None),
         "threads": (0, None), "ss_resize_width": (0, SS_MAX_RESIZE_WIDTH), "fast_short_side": (FAST_MIN_SIDE, None),
         "fast_max_side": (FAST_MIN_SIDE, None)}
_FLOATS = {"score_threshold": (0, 1, False), "nms_iou": (0, 1, False), "soft_nms_sigma": (0, 10, True),
           "ss_scale": (SS_MIN_SCALE, SS_MAX_SCALE, False)}  # (low, high, low excluded)
_CHOICES = {"method": tuple(PROPOSERS), "ss_mode": SS_MODES, "mode": MODES, "nms": NMS_KINDS,
            "backend": BACKENDS}
_FLAGS = ("amp", "no_cache")


def _check_options(given: dict, defaults: dict) -> None:
    """``ValueError`` (``TypeError`` for a value of another kind) naming the keyword of the first option of
    ``given`` (option names, as :func:`default_options`) that ``detect run`` would refuse."""
    keyword = {v: k for k, v in _KEYWORDS.items()}
    for name, value in given.items():
        kw = keyword.get(name, name)
        if value is None and defaults.get(name) is None:
            continue
        if name in _INTS:
            low, high = _INTS[name]
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise TypeError(f"{kw}={value!r}: an integer expected, got {type(value).__name__}")
            if value < low or (high is not None and value > high):
                raise ValueError(f"{kw}={value!r}: expected " + (f"{low} to {high}" if high is not None else
                                                                  f"at least {low}") + " (as detect run's option)")
        elif name in _FLOATS:
            low, high, open_low = _FLOATS[name]
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                raise TypeError(f"{kw}={value!r}: a number expected, got {type(value).__name__}")
            if not math.isfinite(value) or (value <= low if open_low else value < low) or (
                    high is not None and value > high):
                bounds = [f"above {low}" if open_low else f"at least {low}"] + (
                    [f"at most {high}"] if high is not None else [])
                raise ValueError(f"{kw}={value!r}: expected a number {' and '.join(bounds)} (as detect run's "
                                 "option)")
        elif name in _CHOICES:
            if value not in _CHOICES[name]:
                raise ValueError(f"{kw}={value!r}: expected one of {', '.join(map(repr, _CHOICES[name]))}")
        elif name in _FLAGS:
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{kw}={value!r}: True or False expected, got {type(value).__name__}")
        elif name == "classes" and value is not None and not (
                isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))):
            raise TypeError(f"classes={value!r}: class names expected (a list of strings, or one string of names "
                            "separated by commas)")
        elif name == "cache_dir" and value is not None and not os.fspath(value):  # Path('') is '.' (trial 59)
            raise ValueError("cache_dir='': empty path: give the cache's folder, or None for the default")
        elif name == "cache_dir" and value is not None and Path(value).exists() and not Path(value).is_dir():
            raise ValueError(f"cache_dir={str(value)!r}: not a folder (the proposal cache is a folder)")


def _spell(key: str, value=None) -> str:
    """An option as :func:`load_detector` takes it (:func:`detector.engines.unused_options`): ``nms='greedy'``."""
    keyword = {v: k for k, v in _KEYWORDS.items()}.get(key, key)
    return keyword if value is None else f"{keyword}={value!r}"


class ImageDetector:
    """A loaded detector (:func:`load_detector`): call it on an image or a list of images.

    Attributes: ``categories`` — the class names by label, torchvision's convention (``categories[0]`` is
    ``"__background__"``, ``categories[k]`` the name of label ``k``); ``classes`` — the ensemble's
    :class:`~detector.data.vocab.Category` tuple (label ``k`` is ``classes[k - 1]``, with its ILSVRC ``wnid`` and
    ``det_id`` where it has them); ``config`` — the :class:`~detector.engines.RunConfig` it runs (as ``detect run``
    records it); ``members`` — the ensemble; ``pipeline`` — the :class:`~detector.pipeline.Detector` (for
    :meth:`~detector.pipeline.Detector.detect` with proposals of your own)."""

    def __init__(self, job: DetectionJob, members: Sequence[Member]):
        self._job = job
        self.config: RunConfig = job.config
        self.members = list(members)
        self.pipeline: Detector = job.detector
        self.classes = tuple(job.classes)
        self.categories = ["__background__", *(c.name for c in self.classes)]

    def _kept(self) -> str:
        """``" (person kept)"`` when ``classes=`` keeps some of them (trial 59: the repr counted the model's alone)."""
        kept = self.config.postprocess.classes
        return "" if kept is None else f" ({', '.join(kept[:3])}{', …' if len(kept) > 3 else ''} kept)"

    def __repr__(self) -> str:
        return (f"ImageDetector({len(self.members)} member{'s' if len(self.members) != 1 else ''}, "
                f"{len(self.classes)} classes{self._kept()}, proposals={self.config.proposals.method!r}, "
                f"device={str(self.pipeline.device)!r})")

    def eval(self) -> "ImageDetector":
        """Itself: it always detects in inference mode (no dropout, BatchNorm's running statistics, no gradients).
        For the ``model.eval()`` a torchvision user writes out of habit (trial 42: an ``AttributeError``)."""
        return self

    def __call__(self, images) -> dict[str, torch.Tensor] | list[dict[str, torch.Tensor]]:
        """Detect objects in ``images``: one image or a list (or tuple) of them, each

        - a path (``str`` or ``os.PathLike``) of an image file, read as ``detect run`` reads it (EXIF orientation
          applied, 16-bit scaled to 8, transparency over white; its proposals cached as the command caches them);
        - a ``PIL.Image.Image`` (converted to RGB as a file of its mode is read: 16-bit scaled, transparency over
          white; its EXIF orientation is not applied: ``PIL.ImageOps.exif_transpose`` it first if need be);
        - a ``numpy`` array H x W x 3 ``uint8`` RGB (H x W: grey);
        - a ``torch`` tensor 3 x H x W, ``uint8`` or float in [0, 1] (torchvision's input; a float image outside
          [0, 1], as one in [0, 255], is a ``ValueError``).

        A batch — a tensor N x 3 x H x W or an array N x H x W x 3 — is read as the list of its N images.

        Returns, per image, ``{"boxes": float32 [D, 4] xyxy in the image's pixels, "scores": float32 [D] in [0, 1],
        "labels": int64 [D] in 1..C}`` (CPU tensors, best first) — a dict for one image, a list for a list or a
        batch.

        Raises ``ImageError`` naming the file when an image file cannot be read or detection fails on it, and
        ``TypeError``/``ValueError`` for another kind of input."""
        batch = isinstance(images, (torch.Tensor, np.ndarray)) and images.ndim == 4  # N x 3 x H x W, N x H x W x 3
        one = not isinstance(images, (list, tuple)) and not batch
        items = [images] if one else list(images)
        results: list[dict | None] = [None] * len(items)
        files = [(k, Path(x)) for k, x in enumerate(items) if isinstance(x, (str, os.PathLike))]
        pixels = {k: _as_array(x, k) for k, x in enumerate(items)  # checked before any work on the others
                  if not isinstance(x, (str, os.PathLike))}
        for _, path in files:  # in load_image's words, before any work (the search workers' said "FileNotFoundError:")
            if path.is_dir():
                raise ImageError(f"{path}: a folder, not an image file (give its images, or run `detect run` on the "
                                 "folder)")
            if not path.exists():
                raise ImageError(f"{path}: no such file" + (" (a broken symbolic link)" if path.is_symlink() else ""))
        if files:
            proposed = propose_many(self.pipeline.proposer, [p for _, p in files], workers=self._job.ss_workers,
                                    cache=self._job.cache, decode_threads=self.config.decode_threads)
            detected = detect_each(self.pipeline, proposed, images_per_batch=self.config.image_batch)
            try:
                for (k, path), (_, det, error) in zip(files, detected):
                    if det is None:
                        raise ImageError(error if str(path) in error else f"{path}: {error}")
                    results[k] = _as_tensors(det)
            finally:
                detected.close()
                proposed.close()
        for k, rgb in pixels.items():
            results[k] = _as_tensors(self.pipeline.detect(rgb))
        return results[0] if one else results


def _as_array(x: Any, k: int) -> np.ndarray:
    """An in-memory image → RGB ``uint8`` H x W x 3 (the pixels :meth:`Detector.detect` takes)."""
    if isinstance(x, Image.Image):
        try:
            return np.asarray(_pil_rgb(x, k))
        except ValueError as e:
            if str(e).startswith(f"image {k}"):  # ours, naming the image already
                raise
            # Pillow's own (a closed image: "Operation on closed image"), which named no image (trial 66)
            raise ValueError(f"image {k}: cannot read this PIL image: {e}" + (
                " (closed — e.g. used after its `with Image.open(...)` block: call .load() or .copy() inside it, "
                "or pass the file's path)" if "closed" in str(e) else "")) from None
    if isinstance(x, torch.Tensor):
        if x.ndim != 3 or x.shape[0] not in (1, 3):
            hint = ": H x W x C? permute(2, 0, 1) it (a batch: N x C x H x W)" if x.ndim == 3 and x.shape[2] in (
                1, 3) else ""  # trial 39: a channels-last batch was refused without a word of why
            raise ValueError(f"image {k}: a tensor image is C x H x W with C = 3 (or 1), got shape "
                             f"{tuple(x.shape)}{hint}")
        t = x.detach().cpu()
        if t.is_floating_point():
            low, high = (float(v) for v in (t.min(), t.max())) if t.numel() else (0.0, 0.0)
            if not (-_FLOAT_SLACK <= low and high <= 1 + _FLOAT_SLACK):  # NaN fails too
                raise ValueError(f"image {k}: a float tensor image has values in [0, 1] (torchvision's), got "
                                 f"{low:g} to {high:g}" + (": divide it by 255" if 1 < high <= 255 and low >= 0
                                                           else ""))
            t = (t.clamp(0, 1) * 255).round()  # torchvision's float images are in [0, 1]
        elif t.dtype != torch.uint8:
            raise ValueError(f"image {k}: a tensor image is uint8 or float in [0, 1], got {t.dtype}")
        x = t.to(torch.uint8).expand(3, -1, -1).permute(1, 2, 0).numpy()
    if isinstance(x, np.ndarray):
        if not (x.dtype == np.uint8 and (x.ndim == 2 or (x.ndim == 3 and x.shape[2] == 3))):
            hint = ": C x H x W? transpose(1, 2, 0) it (a batch: N x H x W x 3)" if x.ndim == 3 and x.shape[0] == 3 \
                and x.shape[2] != 3 else ""
            raise ValueError(f"image {k}: an array image is H x W x 3 uint8 RGB (or H x W grey), got shape "
                             f"{x.shape} {x.dtype}{hint}")  # the shape as given, not a grey one's 3-channel copy
        if x.ndim == 2:
            x = np.repeat(x[:, :, None], 3, axis=2)
        if min(x.shape[:2]) == 0:
            raise ValueError(f"image {k}: an image of no pixels (shape {x.shape})")
        return np.ascontiguousarray(x)
    raise TypeError(f"image {k}: expected a file path, a PIL image, a numpy array or a torch tensor, got "
                    f"{type(x).__name__}")


_FLOAT_SLACK = 1e-3  # a float image's rounding past [0, 1] (a normalisation undone) is clamped, not refused


def _pil_rgb(img: Image.Image, k: int) -> Image.Image:
    """A PIL image → RGB, as a file of its mode is read (:func:`detector.data.images.load_image`, but for EXIF
    orientation: an in-memory image's pixels are taken as they stand): 16-bit grey scaled to 8 bits, transparency
    over white; 32-bit ``I`` / ``F`` images refused (:func:`~detector.data.images.eight_bit`)."""
    return as_rgb(eight_bit(img, f"image {k}", pil=True))


def _as_tensors(det: Detections) -> dict[str, torch.Tensor]:
    return {"boxes": torch.as_tensor(np.asarray(det.boxes, np.float32)).reshape(-1, 4),
            "scores": torch.as_tensor(np.asarray(det.scores, np.float32)),
            "labels": torch.as_tensor(np.asarray(det.labels, np.int64))}


def load_detector(model=None, *, preset: str = "paper", device: str | None = "auto", **options) -> ImageDetector:
    """The detector of ``detect run [--model MODEL] --preset PRESET --device DEVICE [--option value …]``.

    ``model``: a member file, a folder of members (``detect train ensemble``'s), or a list of them; None: the bundled
    model (``detector/models/default``, or the preset's own: ``fast``). ``preset``: ``paper`` (the defaults) or
    ``fast`` (:data:`detector.engines.PRESETS`; options given here win over it, as on the command line).
    ``device``: ``auto`` (CUDA when there is one; also None), ``cpu``, ``cuda``, ``cuda:N``. ``options``: ``detect
    run``'s options by keyword — ``proposals`` (``ss``, ``multibox``, ``both``), ``multibox`` (a MultiBox model file),
    ``ss_mode``, ``ss_scale``, ``ss_resize_width``, ``max_proposals``, ``multibox_top``, ``mode`` (``crops``,
    ``fast``), ``fast_short_side``, ``fast_max_side``, ``score_threshold``, ``nms`` (``soft``, ``greedy``),
    ``nms_iou``, ``soft_nms_sigma``, ``max_detections``, ``refine``, ``classes`` (class names: a list, or one string
    separated by commas; as ``detect run --classes``), ``amp``, ``backend`` (``auto``, ``onnx``,
    ``torch``), ``batch_size``, ``image_batch``, ``decode_threads``, ``threads`` (0: torch's own), ``cache_dir``,
    ``no_cache`` — each defaulting as the command does (``detect run --help``). Selective search runs in this
    process, one image at a time (no worker process to start).

    Raises ``TypeError`` for an unknown keyword or an option value of the wrong kind (``max_proposals="100"``),
    ``ValueError`` for an unknown preset, a value ``detect run`` refuses (``nms="foo"``, ``max_proposals=-5``) or a
    class name the model lacks (``classes=["unicorn"]``, after the model is loaded),
    ``FileNotFoundError`` when no ``model`` is given and the bundled one is not installed,
    :class:`~detector.classifier.CheckpointError` for a model file that cannot be read, and
    :class:`~detector.nn.device.DeviceError` for a device this machine lacks."""
    if device is None:  # torchvision's habit for "the default" (trial 56: a DeviceError)
        device = "auto"
    o = default_options()
    given = {_KEYWORDS.get(k, k): v for k, v in options.items()}
    unknown = [k for k in options if _KEYWORDS.get(k, k) not in o or k in _NOT_HERE or k in _KEYWORDS.values()]
    if unknown:
        known = sorted({*(k for k in o if k not in _NOT_HERE and k not in _KEYWORDS.values()), *_KEYWORDS} - {"device"})
        raise TypeError(f"load_detector() got an unexpected keyword argument {unknown[0]!r}; detect run's options "
                        f"it takes: {', '.join(known)}")
    _check_options(given, o)
    o = apply_preset({**o, **given, "device": device}, preset, set(given))
    if OMP_LATE:  # detector/__init__.py
        warnings.warn("torch was imported before detector without OMP_WAIT_POLICY set: its OpenMP threads busy-wait "
                      "and take the cores from selective search, which runs in this process (2.5-10x slower measured "
                      "on a busy 2-core machine); set OMP_WAIT_POLICY=PASSIVE in the environment, or import detector "
                      "before torch", RuntimeWarning, stacklevel=2)
    named = {k for k, v in given.items() if not (k == "multibox_path" and v is None)}  # multibox=None: the default
    unused = unused_options(named, o, _spell)
    if unused:  # as detect run refuses them (trial 56: nms_iou=0.5 under Soft-NMS was ignored)
        raise ValueError(unused[0])
    dev = resolve_device(device, what="device")
    if model is None:
        files = bundled_model_files(o.get("bundled_model") or "default")
    else:
        files = [model] if isinstance(model, (str, os.PathLike)) else list(model)
    members = load_ensemble(files, device=dev, mode=o["mode"], fast_short_side=o["fast_short_side"],
                            fast_max_side=o["fast_max_side"], prefer_mode=o.get("prefer_mode"))
    if o["classes"] is not None:
        try:
            o["classes"] = select_classes(members[0].classes, o["classes"])
        except ValueError as e:  # named as the other options' errors are (trial 57)
            raise ValueError(f"classes={o['classes']!r}: {e}") from None
    config = config_from_options(o, [m.path for m in members])
    job = DetectionJob(config, members=members, ss_workers=0)
    top = config.proposals.merge.multibox_top
    if "multibox_top" in given or "multibox_top" in PRESETS[preset]:  # asked for, as detect run warns of it
        asked = f"multibox_top={top}" + ("" if "multibox_top" in given else f" (the {preset} preset's)")
        if text := beyond_k_warning(top, job.detector.proposer.network, asked, config.proposals.multibox_path):
            warnings.warn(text, UserWarning, stacklevel=2)
    job.ss_workers = 0  # selective search in this process even beside ONNX Runtime (DetectionJob's worker: a worker
    # process re-imports the caller's script, which without a __main__ guard would run again); one image at a time,
    # the search never overlaps the ONNX sessions, and the boxes come in the command's order (tests/test_api.py)
    return ImageDetector(job, members)
