"""Precision-recall curves of an evaluation (matplotlib, the optional ``plot`` extra)."""

from __future__ import annotations

from pathlib import Path

from detector.data.io import atomic_write

from .results import EvalResult

__all__ = ["plot_pr_curves"]


def plot_pr_curves(result: EvalResult, path, *, max_labelled: int = 12) -> Path:
    """Draw each class's precision-recall curve (the ``max_labelled`` classes with most positives in colour and in
    the legend, the rest in grey) and write a PNG atomically to ``path``."""
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
    if labelled:
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    try:  # the shared writer: atomic, never over a device or pipe, through a symbolic link
        return atomic_write(path, lambda f: fig.savefig(f, format="png"))
    finally:
        plt.close(fig)
