"""``detect eval --bootstrap N``: a confidence interval of the mAP by resampling images."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import cli
from detector.data import Dataset
from eval import AlignedPredictions, evaluate
from eval.evaluate import bootstrap_interval, resampled_map
from evalhelpers import gt_dataset

CLASSES = 3


def problem(seed: int, n_images: int = 12):
    """Random ground truth (some objects difficult) and detections with distinct scores: near copies of objects
    (true positives at IoU 0.5), loose ones, and boxes anywhere, of several classes."""
    rng = np.random.default_rng(seed)
    images, rows = [], []
    for i in range(n_images):
        n = int(rng.integers(0, 4))
        xy = rng.uniform(0, 300, (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(30, 150, (n, 2))], 1)
        labels = rng.integers(0, CLASSES, n)
        images.append((boxes, labels, rng.random(n) < 0.15))
        for b, c in zip(boxes, labels):
            for jitter in (2, 25):
                if rng.random() < 0.7:
                    rows.append((i, c, rng.random(), *(b + rng.normal(0, jitter, 4))))
        for _ in range(int(rng.integers(0, 3))):
            xy = rng.uniform(0, 350, 2)
            rows.append((i, rng.integers(0, CLASSES), rng.random(), *xy, *(xy + rng.uniform(20, 100, 2))))
    gt = gt_dataset(images)
    a = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
    return gt, AlignedPredictions(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].copy(),
                                  a[:, 3:].copy())


def drawn(gt: Dataset, preds: AlignedPredictions, sample) -> tuple[Dataset, AlignedPredictions]:
    """The dataset made of ``gt``'s images ``sample`` (each as often as drawn) and their detections."""
    images = tuple(gt.images[i] for i in sample)
    rows = [np.flatnonzero(preds.image_index == i) for i in sample]
    pick = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    position = np.concatenate([np.full(len(r), j) for j, r in enumerate(rows)]) if rows else np.zeros(0, np.int64)
    return (Dataset(gt.format, gt.source, gt.classes, images),
            AlignedPredictions(position.astype(np.int64), preds.label[pick], preds.scores[pick], preds.boxes[pick]))


@pytest.mark.parametrize("metric", ["ilsvrc", "voc", "voc07"])
def test_a_resample_scores_as_the_dataset_of_the_drawn_images(metric):
    """The weighted shortcut equals evaluating the resampled dataset itself (images repeated, detections with
    them), and the identity sample gives evaluate()'s mAP."""
    for seed in range(4):
        gt, preds = problem(seed)
        known = {0, 2}
        for only in (None, known):
            mean_ap = resampled_map(gt, preds, metric, only_classes=only)
            full = evaluate(gt, preds, metric, only_classes=only).mAP
            assert mean_ap(np.arange(len(gt.images))) == pytest.approx(full, abs=1e-12)
            rng = np.random.default_rng(seed)
            for _ in range(5):
                sample = rng.integers(0, len(gt.images), len(gt.images))
                expected = evaluate(*drawn(gt, preds, sample), metric, only_classes=only).mAP
                assert mean_ap(sample) == pytest.approx(expected, abs=1e-12)


def test_the_interval_holds_the_map_narrows_with_more_images_and_is_reproducible():
    gt, preds = problem(0, n_images=20)
    full = evaluate(gt, preds).mAP
    low, high = bootstrap_interval(gt, preds, resamples=300)
    assert low < full < high
    assert bootstrap_interval(gt, preds, resamples=300) == (low, high)  # the seed fixes it
    big_gt, big_preds = problem(0, n_images=200)
    big_low, big_high = bootstrap_interval(big_gt, big_preds, resamples=300)
    assert big_high - big_low < high - low
    with pytest.raises(ValueError, match="not 'coco'"):
        bootstrap_interval(gt, preds, "coco")


def test_the_paired_interval_is_the_difference_on_the_same_resamples():
    gt, preds = problem(2, n_images=30)
    assert bootstrap_interval(gt, preds, resamples=200, baseline=preds) == (0.0, 0.0)  # a system against itself
    worse = AlignedPredictions(preds.image_index, preds.label, preds.scores, preds.boxes + 12.0)  # boxes moved off
    ours, theirs = evaluate(gt, preds).mAP, evaluate(gt, worse).mAP
    low, high = bootstrap_interval(gt, preds, resamples=300, baseline=worse)
    assert ours > theirs and low <= ours - theirs <= high
    lone = bootstrap_interval(gt, preds, resamples=300)
    assert high - low < lone[1] - lone[0]  # paired: the images' own difficulty cancels out


def test_cli_eval_bootstrap_prints_and_writes_the_interval(tmp_path):
    gt, preds = problem(1, n_images=15)
    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    objects = [(k, b, c) for k, im in enumerate(gt.images) for b, c in zip(im.boxes, im.labels)]
    coco = {"images": [{"id": k + 1, "file_name": im.file_name, "width": im.width, "height": im.height}
                       for k, im in enumerate(gt.images)],
            "categories": [{"id": c + 1, "name": gt.classes[c].name} for c in range(CLASSES)],
            "annotations": [{"id": n + 1, "image_id": k + 1, "category_id": int(c) + 1, "iscrowd": 0, "bbox": xywh(b),
                             "area": xywh(b)[2] * xywh(b)[3]} for n, (k, b, c) in enumerate(objects)]}
    (tmp_path / "gt.json").write_text(json.dumps(coco))
    results = [{"image_id": int(i) + 1, "category_id": int(c) + 1, "score": float(s), "bbox": xywh(b)}
               for i, c, s, b in zip(preds.image_index, preds.label, preds.scores, preds.boxes)]
    (tmp_path / "pred.json").write_text(json.dumps(results))
    args = ["eval", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "pred.json")]
    res = CliRunner().invoke(cli, [*args, "--bootstrap", "200", "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    r = json.loads((tmp_path / "r.json").read_text())
    b = r["bootstrap"]
    assert b["resamples"] == 200 and b["level"] == 0.95 and b["low"] < r["mAP"] < b["high"]
    assert f"95 % interval {b['low']:.4f}–{b['high']:.4f} (bootstrap over the 15 images, 200 resamples)" in res.output
    # --baseline: the other file's mAP, the difference and its paired interval, in the output and the JSON
    shifted = [{**r, "bbox": [r["bbox"][0] + 9, r["bbox"][1] + 9, *r["bbox"][2:]]} for r in results]
    (tmp_path / "base.json").write_text(json.dumps(shifted))
    res = CliRunner().invoke(cli, [*args, "--baseline", str(tmp_path / "base.json"), "--bootstrap", "200", "--json",
                                   str(tmp_path / "r2.json")])
    assert res.exit_code == 0, res.output
    r2 = json.loads((tmp_path / "r2.json").read_text())["baseline"]
    assert r2["difference"] == pytest.approx(r["mAP"] - r2["mAP"]) and r2["low"] <= r2["difference"] <= r2["high"]
    assert r2["beyond_noise"] == (r2["low"] > 0 or r2["high"] < 0)
    assert f"baseline {tmp_path / 'base.json'}: ilsvrc mAP {r2['mAP']:.4f}; difference {r2['difference']:+.4f}; 95 % " \
        f"interval {r2['low']:+.4f} to {r2['high']:+.4f} (paired bootstrap, the same 200 resamples) — " in res.output
    res = CliRunner().invoke(cli, [*args, "--bootstrap", "200", "--metric", "coco"])
    assert res.exit_code == 2 and "--bootstrap" in res.output and "coco" in res.output, res.output
    for bad in ("-1", "1.5", "x", "1", "99"):  # trial 20: 1 or 2 resamples gave a point, or an interval beside the mAP
        assert CliRunner().invoke(cli, [*args, "--bootstrap", bad]).exit_code == 2
    # a baseline that ran on fewer images: its note says so, as --pred's would (trial 20: compared without a word)
    (tmp_path / "fewer.json").write_text(json.dumps([x for x in shifted if x["image_id"] <= 5]))
    res = CliRunner().invoke(cli, [*args, "--baseline", str(tmp_path / "fewer.json")])
    assert res.exit_code == 0 and f"note: baseline {tmp_path / 'fewer.json'}: " in res.output and "no result in" \
        in res.output, res.output
    res = CliRunner().invoke(cli, [*args, "--baseline", str(tmp_path / "pred.json")])
    assert "note: the baseline is the prediction file itself" in res.output and "difference +0.0000" in res.output
    # every object a crowd region: no mAP, so no difference either (trial 20: the baseline read "mAP 0.0000")
    crowd = {**coco, "annotations": [{**a, "iscrowd": 1} for a in coco["annotations"]]}
    (tmp_path / "crowd.json").write_text(json.dumps(crowd))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(tmp_path / "crowd.json"), "--pred", str(tmp_path / "pred.json"),
                                   "--baseline", str(tmp_path / "base.json"), "--bootstrap", "100"])
    assert res.exit_code == 0 and f"baseline {tmp_path / 'base.json'}: ilsvrc mAP -" in res.output, res.output
    assert "difference" not in res.output
