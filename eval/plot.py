"""Precision-recall curves of an evaluation (matplotlib, the optional ``plot`` extra)."""

from __future__ import annotations

from pathlib import Path

from detector.data.io import atomic_write

from .results import EvalResult

__all__ = ["is_plot_png", "is_png", "plot_pr_curves"]

_PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path) -> bool:
    """Whether the file at ``path`` begins with PNG's signature (False when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read(8) == _PNG
    except OSError:
        return False


def is_plot_png(path) -> bool:
    """Whether the file at ``path`` is a PNG that matplotlib wrote — as :func:`plot_pr_curves` writes every plot,
    with its ``Software`` text chunk (``Matplotlib version…``) before the image data —, so that ``detect eval
    --plot`` may replace it: an earlier plot. A PNG of someone's own (a photo) has no such chunk and is not
    replaced (trial 65: ``--plot photo.png`` replaced a photo by the plot). False when it cannot be read."""
    try:
        with open(path, "rb") as f:
            if f.read(8) != _PNG:
                return False
            while True:
                head = f.read(8)
                if len(head) < 8:
                    return False
                size, kind = int.from_bytes(head[:4], "big"), head[4:]
                if kind in (b"IDAT", b"IEND") or size > 1 << 20:  # the text chunks of a plot come before its data
                    return False
                data = f.read(size)
                f.seek(4, 1)  # its CRC
                if kind in (b"tEXt", b"iTXt"):
                    keyword, _, value = data.partition(b"\x00")
                    if kind == b"iTXt":  # compression flag and method, language tag, translated keyword
                        value = value[2:].split(b"\x00", 2)[-1]
                    if keyword == b"Software" and value.startswith(b"Matplotlib"):
                        return True
    except OSError:
        return False


def plot_pr_curves(result: EvalResult, path, *, max_labelled: int = 12) -> Path:
    """Draw each class's precision-recall curve (the ``max_labelled`` classes with most positives in colour and in
    the legend, the rest in grey, the legend saying how many) and write a PNG atomically to ``path``. Classes with
    positives but no detection (AP 0) have no curve: the legend says how many are not drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise RuntimeError("plotting needs matplotlib: pip install '.[plot]'") from e
    path = Path(path)
    curves = [c for c in result.per_class if c.ap is not None and len(c.recall)]
    labelled = sorted(curves, key=lambda c: (-c.num_gt, c.category.name))[:max_labelled]
    fig, ax = plt.subplots(figsize=(7, 5.5), dpi=110)
    for c in curves:
        if c not in labelled:
            ax.plot(c.recall, c.precision, color="0.8", lw=0.8, drawstyle="steps-post")
    for c in labelled:
        ax.plot(c.recall, c.precision, lw=1.6, drawstyle="steps-post",
                label=f"{c.category.name} (AP {c.ap:.3f}, {c.num_gt} gt)")
    # trial 63: the classes beyond the legend and those without a curve went without a word
    if (grey := len(curves) - len(labelled)) > 0:
        ax.plot([], [], color="0.8", lw=0.8, label=f"… and {grey} more {'class' if grey == 1 else 'classes'} (grey)")
    if undrawn := sum(c.ap is not None and not len(c.recall) for c in result.per_class):
        ax.plot([], [], " ", label=f"{undrawn} {'class' if undrawn == 1 else 'classes'} without detections "
                                   "(AP 0): not drawn")
    if result.iou_threshold is None:
        iou = "IoU 0.5:0.95 (curves at 0.5)"
    elif result.metric == "ilsvrc":
        iou = f"per-object IoU ≤ {result.iou_threshold:g}"
    else:
        iou = f"IoU ≥ {result.iou_threshold:g}"
    ax.set(xlim=(0, 1.0), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
           title=f"{result.metric}: mAP {result.mAP:.4f} over {len([c for c in result.per_class if c.ap is not None])}"
                 f" classes, {iou}")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    try:  # the shared writer: atomic, never over a device or pipe, through a symbolic link
        return atomic_write(path, lambda f: fig.savefig(f, format="png"))
    finally:
        plt.close(fig)
