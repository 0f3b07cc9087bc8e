"""GoogLeNet (ILSVRC 2014) detection system: data layer, region classifiers and the detection pipeline."""

__version__ = "0.1.0"

__all__ = ["load_detector", "__version__"]


def __getattr__(name: str):
    """``from detector import load_detector`` (:func:`detector.api.load_detector`), imported on first use: the
    package itself stays light (the command line imports its parts as it needs them)."""
    if name == "load_detector":
        from .api import load_detector

        return load_detector
    raise AttributeError(f"module 'detector' has no attribute {name!r}")
