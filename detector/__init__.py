"""GoogLeNet (ILSVRC 2014) detection system: data layer, region classifiers and the detection pipeline."""

import os
import sys
import warnings

__version__ = "0.1.0"

# ONNX Runtime 1.29+ starts a telemetry uploader thread on Linux and macOS (microsoft/onnxruntime#27379) unless
# ORT_DISABLE_TELEMETRY=1 is set before it initialises. This tool is offline (nothing leaves the machine), and that
# thread calls the C library's rand() every few seconds, which OpenCV's selective search ranks its boxes with: with it,
# the same image gave other proposals now and then in any process that had loaded ONNX Runtime (trial 39: the Python
# API, `detect run --workers 0`). Set here, before any module of ours can import onnxruntime; a value the user set
# is kept.
if "onnxruntime" in sys.modules and "ORT_DISABLE_TELEMETRY" not in os.environ:
    # too late to stop it: its thread may already draw (trial 40: a script importing onnxruntime first was told nothing)
    warnings.warn("onnxruntime was imported before detector without ORT_DISABLE_TELEMETRY=1: its telemetry thread "
                  "draws from the C library's rand(), which selective search ranks its boxes by, so the same image "
                  "may now and then get other proposals and detections; set ORT_DISABLE_TELEMETRY=1 in the "
                  "environment, or import detector first", RuntimeWarning, stacklevel=2)
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

# OpenMP's threads (torch's) busy-wait between parallel regions by default, taking the cores from selective search,
# which the Python API runs in the caller's process between the network's passes: trial 56 measured the API 2.5-10x
# slower on a 2-core machine with other work (the fast preset on the 4 sample images, twice: 12-14 s against 2-6 s).
# `detect` sets the same in cli/__init__.py. OpenMP reads it once, when torch loads it: a program that imported torch
# first is told so by load_detector (OMP_LATE). A value the user set is kept.
OMP_LATE = "torch" in sys.modules and "OMP_WAIT_POLICY" not in os.environ
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = ["load_detector", "__version__"]


def __getattr__(name: str):
    """``from detector import load_detector`` (:func:`detector.api.load_detector`), imported on first use: the
    package itself stays light (the command line imports its parts as it needs them)."""
    if name == "load_detector":
        from .api import load_detector

        return load_detector
    raise AttributeError(f"module 'detector' has no attribute {name!r}")
