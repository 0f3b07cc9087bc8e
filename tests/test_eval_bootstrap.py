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
    # one object among five images: the resamples without it are left out, and said to be (trial 39)
    sparse = {"images": coco["images"][:5], "categories": coco["categories"],
              "annotations": [{**coco["annotations"][0], "image_id": 1}]}
    (tmp_path / "sparse.json").write_text(json.dumps(sparse))
    (tmp_path / "exact.json").write_text(json.dumps([{"image_id": 1, "category_id": sparse["annotations"][0][
        "category_id"], "score": 0.9, "bbox": sparse["annotations"][0]["bbox"]}]))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(tmp_path / "sparse.json"), "--pred", str(tmp_path / "exact.json"),
                                   "--bootstrap", "200", "--json", str(tmp_path / "r3.json")])
    b = json.loads((tmp_path / "r3.json").read_text())["bootstrap"]
    assert res.exit_code == 0 and b["resamples"] == 200 and 100 < b["resamples_used"] < 200, res.output
    assert (f"interval 1.0000–1.0000 (bootstrap over the 5 images, {b['resamples_used']} of 200 resamples: "
            f"{200 - b['resamples_used']} held no positive") in res.output, res.output
    assert "note: the interval has no width: every resample scored alike" in res.output  # trial 40
    res = CliRunner().invoke(cli, ["eval", "--gt", str(tmp_path / "sparse.json"), "--pred", str(tmp_path / "exact.json"),
                                   "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "pred.json"),
                                   "--bootstrap", "200"])  # several --gt: said of that one (trial 41)
    assert res.exit_code == 0 and f"note: {tmp_path / 'sparse.json'}: the interval has no width" in res.output, \
        res.output
    assert f"note: {tmp_path / 'gt.json'}: the interval has no width" not in res.output


def test_the_mean_of_several_datasets_has_a_stratified_interval():
    """mean_map_interval over several datasets: the interval holds the mean of their mAPs, is the single-set one
    for one dataset, narrows when two independent copies of a set are averaged, is (0, 0) for a system against
    itself; a baseline on some sets only, or a set of one image, is refused."""
    from eval.evaluate import BootstrapSet, mean_map_interval

    sets = [BootstrapSet(*problem(seed)) for seed in (3, 4, 5)]
    mean = np.mean([evaluate(s.gt, s.preds).mAP for s in sets])
    low, high = mean_map_interval(sets, resamples=300)
    assert low < mean < high
    assert mean_map_interval(sets[:1], resamples=300) == bootstrap_interval(sets[0].gt, sets[0].preds, resamples=300)
    one = mean_map_interval(sets[:1], resamples=400)
    two = mean_map_interval(sets[:1] * 2, resamples=400)  # each copy resampled on its own: half the variance
    assert (two[1] - two[0]) < 0.85 * (one[1] - one[0])
    paired = [BootstrapSet(s.gt, s.preds, baseline=s.preds) for s in sets]
    assert mean_map_interval(paired, resamples=200) == (0.0, 0.0)
    with pytest.raises(ValueError, match="every dataset or on none"):
        mean_map_interval([paired[0], sets[1]], resamples=200)
    # a dataset of one image is the same in every resample: a constant of the mean (trial 21: it took the
    # interval away); the other set is resampled as when alone (same seed), so the interval moves affinely
    lone = BootstrapSet(*problem(6, n_images=1))
    constant = evaluate(lone.gt, lone.preds).mAP
    low0, high0 = mean_map_interval(sets[:1], resamples=300)
    assert mean_map_interval([sets[0], lone], resamples=300) == pytest.approx(((low0 + constant) / 2,
                                                                              (high0 + constant) / 2))
    with pytest.raises(ValueError, match="two images"):
        mean_map_interval([lone], resamples=200)


def test_a_resample_without_positives_has_no_map_rather_than_0():
    """A resample whose images hold no object has no mAP — as evaluate() gives a dataset without positives none
    (the CLI: 'mAP -'), and as a class without positives leaves the mean — and is left out of the interval; with
    several datasets, one without positives in a resample leaves that resample's mean. It scored 0: a perfect
    detector on a set where few images hold objects got an interval reaching down to 0."""
    from eval.evaluate import BootstrapSet, mean_map_interval

    box = [[10.0, 10.0, 60.0, 60.0]]
    empty = (np.zeros((0, 4)), np.zeros(0, np.int64))
    sparse = gt_dataset([(box, [0]), empty, empty, empty, empty])  # one image of five holds the one object
    perfect = AlignedPredictions(np.array([0]), np.array([0]), np.array([0.9]), np.array(box))
    assert evaluate(sparse, perfect).mAP == 1.0
    mean_ap = resampled_map(sparse, perfect)
    assert np.isnan(mean_ap(np.array([1, 2, 2, 3, 4])))  # the object's image not drawn: no mAP
    assert mean_ap(np.array([0, 0, 1, 2, 3])) == 1.0
    interval = bootstrap_interval(sparse, perfect, resamples=200)
    assert interval == (1.0, 1.0) and 100 < interval.resamples < 200  # those without the object left out, counted
    assert bootstrap_interval(problem(3)[0], problem(3)[1], resamples=200).resamples == 200
    # classes: one missing from a resample leaves it (as before); the other keeps its AP
    two = gt_dataset([(box, [0]), (box, [1]), empty, empty])
    half = AlignedPredictions(np.array([0, 1]), np.array([0, 1]), np.array([0.9, 0.8]),
                              np.array([box[0], [200.0, 200.0, 250.0, 250.0]]))  # class 1 missed
    assert resampled_map(two, half)(np.array([0, 2, 3, 3])) == 1.0
    assert resampled_map(two, half)(np.array([1, 1, 2, 3])) == 0.0
    dense, dense_preds = problem(3)
    sets = [BootstrapSet(sparse, perfect), BootstrapSet(dense, dense_preds)]
    low, high = mean_map_interval(sets, resamples=300)
    alone = mean_map_interval(sets[1:], resamples=300)
    # a resample without sparse's object is dense's mAP alone (it was half of it, as if sparse scored 0)
    assert alone[0] - 0.03 < low < high < (1 + alone[1]) / 2 + 0.03, (low, high, alone)
    paired = [BootstrapSet(sparse, perfect, baseline=perfect)]
    assert mean_map_interval(paired, resamples=200) == (0.0, 0.0)


def _coco_files(tmp_path, name: str, seed: int, shift: float = 0.0):
    """A COCO ground truth of problem(seed) whose images are named ``{name}_imgK.jpg``, and its results with
    'file_name' (boxes moved by ``shift`` px): returns (gt path, results list)."""
    gt, preds = problem(seed, n_images=12)

    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    files = [f"{name}_{im.file_name}" for im in gt.images]
    objects = [(k, b, c) for k, im in enumerate(gt.images) for b, c in zip(im.boxes, im.labels)]
    coco = {"images": [{"id": k + 1, "file_name": f, "width": im.width, "height": im.height}
                       for k, (f, im) in enumerate(zip(files, gt.images))],
            "categories": [{"id": c + 1, "name": gt.classes[c].name} for c in range(CLASSES)],
            "annotations": [{"id": n + 1, "image_id": k + 1, "category_id": int(c) + 1, "iscrowd": 0, "bbox": xywh(b),
                             "area": xywh(b)[2] * xywh(b)[3]} for n, (k, b, c) in enumerate(objects)]}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(coco))
    results = [{"image_id": int(i) + 1, "file_name": files[int(i)], "category_id": int(c) + 1, "score": float(s),
                "bbox": [x + shift for x in xywh(b)[:2]] + xywh(b)[2:]}
               for i, c, s, b in zip(preds.image_index, preds.label, preds.scores, preds.boxes)]
    return path, results


def test_cli_eval_several_ground_truths_gives_each_map_and_their_mean(tmp_path):
    """detect eval --gt A --gt B: one line per dataset (the mAP it has alone), their mean, its stratified interval
    and the paired one of the mean difference; one prediction file over both or one per --gt give the same numbers;
    what cannot be meant is refused."""
    (a, ra), (b, rb) = _coco_files(tmp_path, "a", 7), _coco_files(tmp_path, "b", 8)
    _, sa = _coco_files(tmp_path, "a", 7, shift=9.0)
    _, sb = _coco_files(tmp_path, "b", 8, shift=9.0)
    files = {"both.json": ra + rb + [{**ra[0], "file_name": "elsewhere.jpg"}], "pa.json": ra, "pb.json": rb,
             "base.json": sa + sb}
    for f, data in files.items():
        (tmp_path / f).write_text(json.dumps(data))
    p = lambda f: str(tmp_path / f)
    alone = []
    for gt, pred in ((a, "pa.json"), (b, "pb.json")):
        res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", p(pred), "--json", p(f"{gt.stem}_r.json")])
        assert res.exit_code == 0, res.output
        alone.append(json.loads((tmp_path / f"{gt.stem}_r.json").read_text())["mAP"])
    gts = ["--gt", str(a), "--gt", str(b)]
    res = CliRunner().invoke(cli, ["eval", *gts, "--pred", p("both.json"), "--baseline", p("base.json"),
                                   "--bootstrap", "200", "--json", p("r.json")])
    assert res.exit_code == 0, res.output
    r = json.loads((tmp_path / "r.json").read_text())
    assert [d["mAP"] for d in r["datasets"]] == pytest.approx(alone)
    assert [d["gt"] for d in r["datasets"]] == [str(a), str(b)]
    mean = r["mean"]
    assert mean["mAP"] == pytest.approx(np.mean(alone)) and mean["num_datasets"] == 2
    assert mean["bootstrap"]["low"] < mean["mAP"] < mean["bootstrap"]["high"] and mean["bootstrap"]["stratified"]
    base = mean["baseline"]
    assert base["difference"] == pytest.approx(mean["mAP"] - base["mAP"]) and base["low"] <= base["difference"] \
        <= base["high"]
    for d, m in zip(r["datasets"], alone):
        assert str(f"{m:.4f}") in res.output and d["bootstrap"]["low"] < d["mAP"] < d["bootstrap"]["high"]
    marked = [d["baseline"]["beyond_noise"] for d in r["datasets"]]
    assert ("* more than the choice of that dataset's images explains" in res.output) == any(marked)
    assert f"ilsvrc mean mAP {mean['mAP']:.4f}  (over 2 datasets, each weighing the same" in res.output
    assert f"mean mAP 95 % interval {mean['bootstrap']['low']:.4f}–{mean['bootstrap']['high']:.4f} (bootstrap, each " \
        "ground truth's images resampled on their own, 200 resamples)" in res.output
    assert f"baseline: ilsvrc mean mAP {base['mAP']:.4f}; difference {base['difference']:+.4f}; 95 % interval " \
        f"{base['low']:+.4f} to {base['high']:+.4f} (paired bootstrap" in res.output
    # the other set's images are no loss; the image in neither set is
    assert f"note: {p('both.json')}: left out: 1 prediction on 1 image in none of the ground truths (e.g. " \
        "elsewhere.jpg)" in res.output, res.output
    assert "not in the ground truth" not in res.output
    # one file per --gt, in order: the same numbers
    res = CliRunner().invoke(cli, ["eval", *gts, "--pred", p("pa.json"), "--pred", p("pb.json"), "--json",
                                   p("r2.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r2.json").read_text())["mean"]["mAP"] == pytest.approx(mean["mAP"])
    # refused, exit 2: a count of files that fits neither rule, an option of one ground truth, a dataset twice
    for bad in (["--pred", p("pa.json"), "--pred", p("pb.json"), "--pred", p("both.json")],
                ["--pred", p("both.json"), "--plot", p("pr.png")], ["--pred", p("both.json"), "--gt", str(a)]):
        res = CliRunner().invoke(cli, ["eval", *gts, *bad])
        assert res.exit_code == 2 and "Error" in res.output, (bad, res.output)
    assert not (tmp_path / "pr.png").exists()
    (tmp_path / "link.json").symlink_to(a)
    res = CliRunner().invoke(cli, ["eval", *gts, "--gt", p("link.json"), "--pred", p("both.json")])
    assert res.exit_code == 2 and f"{p('link.json')} is given twice (as {a})" in res.output, res.output
    # a copy under another name is another path, but the same images: said, as they count twice in the mean
    (tmp_path / "copy.json").write_text(a.read_text())
    res = CliRunner().invoke(cli, ["eval", *gts, "--gt", p("copy.json"), "--pred", p("both.json")])
    assert res.exit_code == 0 and f"note: {a} and {p('copy.json')} share 12 images (e.g. " in res.output, res.output
    # results by image id only cannot be shared: ids of the two sets overlap (exit 1, the file named)
    (tmp_path / "ids.json").write_text(json.dumps([{k: v for k, v in x.items() if k != "file_name"} for x in ra]))
    res = CliRunner().invoke(cli, ["eval", *gts, "--pred", p("ids.json")])
    assert res.exit_code == 1 and f"{p('ids.json')}: its images are given by image_id only" in res.output, res.output
    # said without claiming an overlap it did not check (ids 1.. and 101.. are refused just the same)
    assert "overlap" not in res.output and "one --pred file per --gt" in res.output, res.output


def test_a_dataset_without_positives_among_the_model_classes_is_left_out_of_the_mean(tmp_path):
    def coco(name, category):
        return {"images": [{"id": k, "file_name": f"{name}{k}.jpg", "width": 100, "height": 100} for k in (1, 2)],
                "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "zebra"}],
                "annotations": [{"id": k, "image_id": k, "category_id": category, "bbox": [10, 10, 50, 50],
                                 "area": 2500, "iscrowd": 0} for k in (1, 2)]}

    for name, category in (("a", 1), ("b", 2)):
        (tmp_path / f"{name}.json").write_text(json.dumps(coco(name, category)))
    (tmp_path / "p.json").write_text(json.dumps([{"image_id": 1, "file_name": f"{n}1.jpg", "category_id": 1,
                                                  "bbox": [10, 10, 50, 50], "score": 0.9} for n in "ab"]))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(tmp_path / "a.json"), "--gt", str(tmp_path / "b.json"),
                                   "--pred", str(tmp_path / "p.json"), "--model-classes-only", "--json",
                                   str(tmp_path / "r.json"), "--bootstrap", "100"])
    assert res.exit_code == 0, res.output
    assert f"note: {tmp_path / 'b.json'}: no class has positives among the classes the prediction file's model knows " \
        "(--model-classes-only): left out of the mean" in res.output
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["mean"]["mAP"] == 0.5 and r["mean"]["num_datasets"] == 1 and r["datasets"][1]["mAP"] is None
    assert r["datasets"][1]["bootstrap"] is None and r["mean"]["bootstrap"]["resamples"] == 100
    assert "ilsvrc mean mAP 0.5000  (over 1 dataset; per-object" in res.output


def test_a_one_image_dataset_in_the_mean_interval_is_said_to_be_a_constant(tmp_path):
    """trial 48: a one-image --gt beside another entered the mean's interval (and the paired one) as a constant; its
    difference alone made the verdict "more than the choice of images explains", without a word."""
    (a, ra), (b, rb) = _coco_files(tmp_path, "a", 7), _coco_files(tmp_path, "b", 8)
    one = json.loads(b.read_text())
    keep = one["images"][0]["id"]
    one = {**one, "images": one["images"][:1], "annotations": [x for x in one["annotations"] if x["image_id"] == keep]}
    (tmp_path / "one.json").write_text(json.dumps(one))
    (tmp_path / "both.json").write_text(json.dumps(ra + rb))
    args = ["eval", "--gt", str(a), "--gt", str(tmp_path / "one.json"), "--pred", str(tmp_path / "both.json"),
            "--bootstrap", "100"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert f"note: {tmp_path / 'one.json'}: one image, the same in every resample: its mAP enters the mean's " \
        "interval as a constant" in res.output, res.output
    res = CliRunner().invoke(cli, [*args, "--baseline", str(tmp_path / "both.json")])
    assert "its mAP enters the mean's interval (and the difference from the baseline, its paired one) as a " \
        "constant" in res.output, res.output
    # no such note where every set is resampled
    res = CliRunner().invoke(cli, ["eval", "--gt", str(a), "--gt", str(b), "--pred", str(tmp_path / "both.json"),
                                   "--bootstrap", "100"])
    assert res.exit_code == 0 and "as a constant" not in res.output, res.output
