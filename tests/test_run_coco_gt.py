"""``detect run --format coco --coco-gt``: results with the ground truth's own ids, which pycocotools alone scores
(user trial: the ids were input positions, so ``COCO.loadRes`` + ``COCOeval`` on the user's ground truth scored
garbage while ``detect eval``, matching by ``file_name``, was right)."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from evalhelpers import pycocotools_stats
from PIL import Image

from cli.main import cli
from detector.classifier import ClassifierSpec, build_classifier, save_member
from detector.data.coco import coco_gt_ids
from detector.data.vocab import ilsvrc_categories
from eval.coco_metric import COCO_STAT_NAMES

CATEGORIES = [{"id": 1, "name": "person"}, {"id": 25, "name": "giraffe"}]


def gt_file(path, file_names, ids):
    """COCO ground truth: images ``file_names`` (120 x 90) with ``ids``, one person on each at the bright block."""
    path.write_text(json.dumps({
        "images": [{"id": i, "file_name": n, "width": 120, "height": 90} for n, i in zip(file_names, ids)],
        "annotations": [{"id": k + 1, "image_id": i, "category_id": 1, "bbox": [30, 22, 60, 45], "area": 2700,
                         "iscrowd": 0} for k, i in enumerate(ids)],
        "categories": CATEGORIES}))
    return path


def test_coco_gt_ids_match_names_as_eval_does(tmp_path):
    gt = gt_file(tmp_path / "gt.json", ["val/cam_a/0001.jpg", "val/cam_b/0001.jpg", "x.jpg"], ["a1", "b1", "x"])
    ids = coco_gt_ids(gt, ["cam_a/0001.jpg", "cam_b/0001.JPG", "x.jpg"])
    assert ids.image_ids == {"cam_a/0001.jpg": "a1", "cam_b/0001.JPG": "b1", "x.jpg": "x"}
    assert ids.category_ids == {"n00007846": 1, "giraffe": 25}  # person by its wnid, as detect eval matches classes
    with pytest.raises(ValueError, match=r"gt\.json: 2 of the 3 input images are not among its images.*'y\.jpg', "
                                         r"'cam_c/0001\.jpg'"):
        coco_gt_ids(gt, ["x.jpg", "y.jpg", "cam_c/0001.jpg"])
    # x.png beside x.jpg: x.jpg is the annotated image, x.png is not (detect eval would leave its results out)
    with pytest.raises(ValueError, match=r"1 of the 2 input images .*'x\.png' \(its image 'x\.jpg' is 'x\.jpg'\)"):
        coco_gt_ids(gt, ["x.png", "x.jpg"])
    with pytest.raises(ValueError, match=r"gt\.json: input image '0001\.jpg' fits two ground-truth images"):
        coco_gt_ids(gt, ["0001.jpg"])


def test_coco_gt_is_refused_before_any_work(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    Image.new("RGB", (120, 90)).save(d / "a.jpg")
    Image.new("RGB", (120, 90)).save(d / "stray.jpg")
    gt = gt_file(tmp_path / "gt.json", ["a.jpg"], [7])
    out = tmp_path / "r.json"
    # no --model: the refusals come before a model is looked for
    res = CliRunner().invoke(cli, ["run", str(d), "--out", str(out), "--coco-gt", str(gt), "--format", "coco"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert f"Error: {gt}: 1 of the 2 input images is not among its images" in res.output
    assert "'stray.jpg'" in res.output
    res = CliRunner().invoke(cli, ["run", str(d / "a.jpg"), "--out", str(out), "--coco-gt", str(gt)])
    assert res.exit_code == 2 and "use it with --format coco" in res.output
    # trial 29: an image of another size than the ground truth's of its name (a resized copy, another image of that
    # stem) took its id, and pycocotools scored boxes in other pixels without a word; detect eval refuses it
    Image.new("RGB", (60, 45)).save(d / "a.png")
    res = CliRunner().invoke(cli, ["run", str(d / "a.png"), "--out", str(out), "--coco-gt", str(gt), "--format",
                                   "coco"])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert (f"Error: {gt}: 1 of the input images is not the size of its image of the same name there, so the boxes "
            "would be in other pixels: a.png 60x45 (ground truth: a.jpg 120x90)") in res.output, res.output
    # an EXIF orientation swapping the sides is named as the likely cause
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° when shown
    Image.new("RGB", (120, 90)).save(d / "a.jpg", exif=exif)
    res = CliRunner().invoke(cli, ["run", str(d / "a.jpg"), "--out", str(out), "--coco-gt", str(gt), "--format",
                                   "coco"])
    assert res.exit_code == 1 and "a.jpg 90x120 (ground truth: a.jpg 120x90)" in res.output, res.output
    assert ("width and height are swapped (a.jpg): if the image has an EXIF orientation tag, detect applies it as a "
            "viewer does") in res.output, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gt.json", "imgs"]  # nothing written


def tiny_model(path):
    torch.manual_seed(0)
    spec = ClassifierSpec(arch="paper-bn", num_classes=3, input_size=96, width=0.25)
    model = build_classifier(spec)
    with torch.no_grad():  # "person" likely everywhere: detections on every image; "dog" (not in gt.json) too
        model.backbone.fc.weight.mul_(0.05)
        model.backbone.fc.bias[1] = 4.0
        model.backbone.fc.bias[2] = 3.0
    return save_member(path, model.eval(), spec, [ilsvrc_categories()[123], ilsvrc_categories()[57]])


def red_block_images(folder, names, seed):
    """Images ``names`` (120 x 90, noise) under ``folder``, each with a red block where :func:`gt_file` puts its
    person."""
    rng = np.random.default_rng(seed)
    for name in names:
        arr = rng.integers(0, 60, (90, 120, 3), dtype=np.uint8)
        arr[22:67, 30:90] = (200, 40, 40)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(folder / name)
    return folder


def run_args(tmp_path, folder):
    """`detect run` on ``folder`` with :func:`tiny_model`, in this process, few regions: fast."""
    return ["run", str(folder), "--model", str(tiny_model(tmp_path / "m.pt")), "--workers", "0", "--no-cache",
            "--max-proposals", "30", "--threads", "1"]


def test_run_coco_gt_results_score_the_same_in_pycocotools_and_detect_eval(tmp_path):
    d = red_block_images(tmp_path / "imgs", ("a.jpg", "sub/b.png", "sub/c.png"), seed=0)
    # the ground truth names the images by longer paths, in another order, with ids that are not positions
    gt = gt_file(tmp_path / "gt.json", ["val/sub/c.png", "val/a.jpg", "val/sub/b.png"], [305, 101, 205])
    base = run_args(tmp_path, d)
    out = tmp_path / "res.json"
    res = CliRunner().invoke(cli, [*base, "--out", str(out), "--format", "coco", "--coco-gt", str(gt)])
    assert res.exit_code == 0, res.output
    coco_summary = res.output
    results = json.loads(out.read_text())
    assert results and {r["image_id"] for r in results} <= {101, 205, 305}
    assert {r["file_name"]: r["image_id"] for r in results} == {"a.jpg": 101, "sub/b.png": 205, "sub/c.png": 305}
    assert {r["category_id"] for r in results} == {1}  # person's id in gt.json; dog (not in it) left out

    theirs = pycocotools_stats(gt, out)
    assert theirs[0] > 0  # something found: the comparison means something
    metrics = tmp_path / "m.json"
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(out), "--metric", "coco", "--json",
                                   str(metrics)])
    assert res.exit_code == 0, res.output
    ours = json.loads(metrics.read_text())
    np.testing.assert_allclose([ours[k] for k in COCO_STAT_NAMES], theirs, atol=1e-12)
    # the same results without detect's extra keys — what a pycocotools user's own file looks like — are matched
    # by the ground truth's ids
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps([{k: r[k] for k in ("image_id", "category_id", "bbox", "score")} for r in results]))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(plain), "--metric", "coco", "--json",
                                   str(metrics)])
    assert res.exit_code == 0, res.output
    np.testing.assert_allclose([json.loads(metrics.read_text())[k] for k in COCO_STAT_NAMES], theirs, atol=1e-12)
    # and the run's boxes.json evaluates to the same numbers (detect eval matching it by file_name and class)
    doc = tmp_path / "boxes.json"
    res = CliRunner().invoke(cli, [*base, "--out", str(doc)])
    assert res.exit_code == 0, res.output
    # the coco run's summary counted what it wrote (user trial: it said 99 where the file had 72)
    left_out = len(json.loads(doc.read_text())["detections"]) - len(results)
    assert left_out > 0 and f"{len(results)} detections ({left_out} more left out: their classes are not in " \
        f"{gt}), 0 errors" in coco_summary
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(doc), "--metric", "coco", "--json",
                                   str(metrics)])
    assert res.exit_code == 0, res.output
    np.testing.assert_allclose([json.loads(metrics.read_text())[k] for k in COCO_STAT_NAMES], theirs, atol=1e-12)


def test_merge_of_shards_takes_the_coco_gt_ids_as_one_run_does(tmp_path):
    d = red_block_images(tmp_path / "imgs", ("a.jpg", "b.jpg", "c.jpg"), seed=1)
    gt = gt_file(tmp_path / "gt.json", ["c.jpg", "a.jpg", "b.jpg"], [30, 10, 20])
    base = run_args(tmp_path, d)
    one = tmp_path / "one.json"
    assert CliRunner().invoke(cli, [*base, "--out", str(one), "--format", "coco", "--coco-gt", str(gt)]).exit_code == 0
    parts = []
    for i in (0, 1):
        parts.append(tmp_path / f"part{i}.json")
        res = CliRunner().invoke(cli, [*base, "--out", str(parts[-1]), "--shard", f"{i}/2"])
        assert res.exit_code == 0, res.output
    merged = tmp_path / "merged.json"
    res = CliRunner().invoke(cli, ["merge", *map(str, parts), "--out", str(merged), "--format", "coco",
                                   "--coco-gt", str(gt)])
    assert res.exit_code == 0, res.output
    got, want = json.loads(merged.read_text()), json.loads(one.read_text())
    assert want and {r["image_id"] for r in got} == {10, 20, 30}
    key = lambda r: (r["image_id"], -r["score"], r["bbox"])
    assert [(r["image_id"], r["category_id"]) for r in sorted(got, key=key)] == \
        [(r["image_id"], r["category_id"]) for r in sorted(want, key=key)]
    np.testing.assert_allclose([r["score"] for r in sorted(got, key=key)], [r["score"] for r in sorted(want, key=key)],
                               atol=1e-6)
    # without --format coco, or with a ground truth lacking an image: refused, naming why
    res = CliRunner().invoke(cli, ["merge", *map(str, parts), "--out", str(tmp_path / "x.json"), "--coco-gt", str(gt)])
    assert res.exit_code == 2 and "use it with --format coco" in res.output
    small = gt_file(tmp_path / "small.json", ["a.jpg"], [10])
    res = CliRunner().invoke(cli, ["merge", *map(str, parts), "--out", str(tmp_path / "x.json"), "--format", "coco",
                                   "--coco-gt", str(small)])
    assert res.exit_code == 1 and "2 of the 3 input images are not among its images" in res.output
    # the sizes the parts recorded are checked as detect run checks the files' (trial 29)
    other = gt_file(tmp_path / "other.json", ["c.jpg", "a.jpg", "b.jpg"], [30, 10, 20])
    other.write_text(other.read_text().replace('"width": 120', '"width": 240', 1))
    res = CliRunner().invoke(cli, ["merge", *map(str, parts), "--out", str(tmp_path / "x.json"), "--format", "coco",
                                   "--coco-gt", str(other)])
    assert res.exit_code == 1 and "c.jpg 120x90 (ground truth: c.jpg 240x90)" in res.output, res.output
    assert not (tmp_path / "x.json").exists()
