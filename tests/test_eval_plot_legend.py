"""`detect eval --plot`: the legend says how many classes it leaves out — those beyond its first 12 (drawn in grey)
and those with positives but no detection (no curve) — rather than stop without a word (trial 63)."""
import numpy as np
import pytest

from detector.data.vocab import ilsvrc_categories
from eval.plot import plot_pr_curves
from eval.results import ClassResult, EvalResult

plt = pytest.importorskip("matplotlib.pyplot")


def _legend(result, tmp_path, monkeypatch) -> list[str]:
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure plot_pr_curves would close
    plot_pr_curves(result, tmp_path / "pr.png")
    legend = figures[0].axes[0].get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend is not None else []


def _result(with_curves: int, without: int) -> EvalResult:
    cats = ilsvrc_categories()
    curve = (np.array([0.5, 1.0]), np.array([1.0, 0.5]))
    per_class = [ClassResult(cats[k], 0.75, 20 - k, 2, *curve) for k in range(with_curves)]
    per_class += [ClassResult(cats[with_curves + k], 0.0, 3, 0, np.zeros(0), np.zeros(0)) for k in range(without)]
    aps = [c.ap for c in per_class]
    return EvalResult("voc", 0.5, float(np.mean(aps)), float(np.median(aps)), tuple(per_class), 4, 2 * with_curves)


def test_the_legend_says_what_it_leaves_out(tmp_path, monkeypatch):
    texts = _legend(_result(15, 2), tmp_path, monkeypatch)
    assert len(texts) == 14 and texts[0].startswith("accordion (AP 0.750, 20 gt)"), texts
    assert texts[12:] == ["… and 3 more classes (grey)", "2 classes without detections (AP 0): not drawn"]
    texts = _legend(_result(2, 1), tmp_path, monkeypatch)  # all in the legend: only the class without a curve
    assert texts[2:] == ["1 class without detections (AP 0): not drawn"], texts
    assert len(_legend(_result(12, 0), tmp_path, monkeypatch)) == 12  # nothing left out: nothing more said
    assert _legend(_result(0, 2), tmp_path, monkeypatch) == ["2 classes without detections (AP 0): not drawn"]
