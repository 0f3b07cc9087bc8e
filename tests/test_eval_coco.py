"""`coco` metric against pycocotools called directly on the same files."""

import json

import numpy as np
import pytest
from evalhelpers import pycocotools_stats

from detector.data import read_dataset
from eval import align_predictions, evaluate, read_predictions
from eval.coco_metric import COCO_STAT_NAMES


def make_files(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    cats = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 25, "name": "giraffe"}]
    for i in range(1, 16):
        images.append({"id": i * 10, "file_name": f"{i}.jpg", "width": 640, "height": 480})
        for _ in range(int(rng.integers(1, 6))):
            x, y = rng.uniform(0, 500, 2)
            w, h = rng.uniform(5, 140, 2)
            cat = int(rng.choice([1, 3, 25]))
            anns.append({"id": len(anns) + 1, "image_id": i * 10, "category_id": cat, "bbox": [x, y, w, h],
                         "area": w * h * rng.uniform(0.5, 1.0), "iscrowd": int(rng.random() < 0.1)})
            if rng.random() < 0.8:
                j = rng.normal(0, 4, 4)
                results.append({"image_id": i * 10, "category_id": cat, "score": float(rng.random()),
                                "bbox": [x + j[0], y + j[1], max(w + j[2], 1), max(h + j[3], 1)]})
        for _ in range(int(rng.integers(0, 3))):
            results.append({"image_id": i * 10, "category_id": int(rng.choice([1, 3, 25])),
                            "score": float(rng.random()), "bbox": list(rng.uniform(10, 200, 4))})
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    res = tmp_path / "res.json"
    res.write_text(json.dumps(results))
    return gt, res


@pytest.mark.parametrize("seed", [0, 1])
def test_coco_equals_pycocotools(tmp_path, seed):
    gt_path, res_path = make_files(tmp_path, seed)
    theirs = pycocotools_stats(gt_path, res_path)
    gt = read_dataset(gt_path)
    r = evaluate(gt, align_predictions(read_predictions(res_path), gt), "coco",
                 coco_gt=json.loads(gt_path.read_text()))
    ours = [r.extra[k] for k in COCO_STAT_NAMES]
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert r.mAP == pytest.approx(theirs[0], abs=1e-6)
    assert set(r.to_dict()) >= set(COCO_STAT_NAMES)


def test_coco_without_original_json_and_empty(tmp_path):
    gt_path, res_path = make_files(tmp_path)
    gt = read_dataset(gt_path)
    r = evaluate(gt, align_predictions(read_predictions(res_path), gt), "coco")  # built from the dataset
    assert 0.0 < r.mAP <= 1.0
    res_path.write_text("[]")
    r = evaluate(gt, align_predictions(read_predictions(res_path), gt), "coco")
    assert r.mAP == 0.0 and r.extra["AP50"] == 0.0


def test_coco_empty_results_keep_minus_one_for_area_ranges_without_objects(tmp_path):
    """Nothing detected: 0 where there are objects, but -1 (pycocotools' "no objects of that size") for an area
    range without any, as pycocotools gives with any results at all; it was 0 for all 12 numbers."""
    gt_path = tmp_path / "gt.json"
    gt_json = {"images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 100}],
               "categories": [{"id": 1, "name": "person"}],
               "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50], "area": 2500,
                                "iscrowd": 0}]}  # one medium object: no small, no large ones
    gt_path.write_text(json.dumps(gt_json))
    far = tmp_path / "far.json"  # one result far off: what pycocotools itself can score
    far.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [150, 80, 5, 5], "score": 0.1}]))
    theirs = pycocotools_stats(gt_path, far)
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    gt = read_dataset(gt_path)
    for coco_gt in (gt_json, None):
        r = evaluate(gt, align_predictions(read_predictions(empty), gt), "coco", coco_gt=coco_gt)
        np.testing.assert_array_equal([r.extra[k] for k in COCO_STAT_NAMES], theirs)
        assert [r.extra[k] for k in ("APs", "APl", "ARs", "ARl")] == [-1.0] * 4 and r.extra["APm"] == 0.0
        assert r.mAP == 0.0 and [c.ap for c in r.per_class] == [0.0]


def test_the_summary_prints_no_objects_of_a_size_in_words_and_json_keeps_minus_one(tmp_path):
    # trial 63: pycocotools' -1 of a size range without objects was printed "APs -1.0000"; --json keeps it as -1
    from click.testing import CliRunner

    from cli.main import cli

    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 100}],
                              "categories": [{"id": 1, "name": "person"}],
                              "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50],
                                               "area": 2500, "iscrowd": 0}]}))  # one medium object
    res = tmp_path / "res.json"
    res.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50], "score": 0.9}]))
    out = tmp_path / "eval.json"
    r = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(res), "--metric", "coco", "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "-1.0000" not in r.stdout, r.stdout
    for line in ("   APs n/a (no objects of this size: area under 32² px)", "   APm 1.0000",
                 "   APl n/a (no objects of this size: area over 96² px)",
                 "   ARs n/a (no objects of this size: area under 32² px)", "   ARm 1.0000"):
        assert f"\n{line}\n" in r.stdout, r.stdout
    d = json.loads(out.read_text())
    assert [d[k] for k in ("APs", "APm", "APl", "ARs", "ARm", "ARl")] == pytest.approx([-1, 1, -1, -1, 1, -1])


def ours(gt_path, res_path, metric="coco"):
    from detector.data.readers import load_coco_json

    gt = read_dataset(gt_path)
    return evaluate(gt, align_predictions(read_predictions(res_path), gt), metric,
                    coco_gt=load_coco_json(gt_path) if metric == "coco" else None)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decimal_boxes_equal_pycocotools(tmp_path, seed):
    # issue 12, kind 1: boxes stay float64 from the file to pycocotools. Many detections sit within 2e-9 of IoU 0.5
    # or 0.75, where the float32 round trip of before (1.2e-3 off on such files) moves matches.
    from evalhelpers import decimal_problem, to_float32

    gt_dict, results = decimal_problem(seed, crowd=True)
    gt_path, res_path = tmp_path / "gt.json", tmp_path / "res.json"
    gt_path.write_text(json.dumps(gt_dict))
    res_path.write_text(json.dumps(results))
    ref = pycocotools_stats(gt_path, json.loads(res_path.read_text()))
    assert np.abs(pycocotools_stats(gt_path, to_float32(results)) - ref).max() > 1e-4  # float32 would show
    r = ours(gt_path, res_path)
    np.testing.assert_allclose([r.extra[k] for k in COCO_STAT_NAMES], ref, rtol=0, atol=1e-9)
    # the same detections as boxes.json (detect run's own form) give the same numbers
    doc = {"images": [{"id": im["id"], "file_name": im["file_name"]} for im in gt_dict["images"]],
           "categories": [{"id": c.source_id, "name": c.name, "wnid": c.wnid} for c in read_dataset(gt_path).classes],
           "detections": results}
    (tmp_path / "boxes.json").write_text(json.dumps(doc))
    r = ours(gt_path, tmp_path / "boxes.json")
    np.testing.assert_allclose([r.extra[k] for k in COCO_STAT_NAMES], ref, rtol=0, atol=1e-9)


def worked_example(tmp_path, gt_boxes, *, area_and_crowd=True, image_ids=(1, 2)):
    """Issue 12's example: two 100x80 images, one person each; detections: an exact hit on image 1 (0.9), a miss on
    image 2 (0.8), a hit on image 2 (0.7; exact for the [20, 5, 30, 30] ground truth)."""
    anns = [{"id": k + 1, "image_id": image_ids[k], "category_id": 1, "bbox": b} for k, b in enumerate(gt_boxes)]
    if area_and_crowd:
        for a in anns:
            a.update(area=a["bbox"][2] * a["bbox"][3], iscrowd=0)
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": i, "file_name": f"{n}.jpg", "width": 100, "height": 80}
                                         for i, n in zip(image_ids, "ab")],
                              "annotations": anns, "categories": [{"id": 1, "name": "person"}]}))
    res = tmp_path / "res.json"
    res.write_text(json.dumps([{"image_id": image_ids[0], "category_id": 1, "bbox": [10, 10, 40, 60], "score": 0.9},
                               {"image_id": image_ids[1], "category_id": 1, "bbox": [60, 40, 30, 30], "score": 0.8},
                               {"image_id": image_ids[1], "category_id": 1, "bbox": [20, 5, 30, 30], "score": 0.7}]))
    return gt, res


def test_worked_example(tmp_path):
    # VOC/ILSVRC all-point AP by hand: TP, FP, TP of 2 positives → recall .5 .5 1, precision 1 .5 2/3 →
    # .5 * 1 + .5 * 2/3 = 0.8333
    gt, res = worked_example(tmp_path, [[10, 10, 40, 60], [20, 5, 30, 30]])
    for metric in ("ilsvrc", "voc"):
        assert ours(gt, res, metric).mAP == pytest.approx(0.5 + 0.5 * 2 / 3, abs=1e-12)
    # pycocotools on the [12, 10, …] / [20, 6, …] variant: AP 0.7515, AP50 0.8350 (issue 12), here computed by it
    gt, res = worked_example(tmp_path, [[12, 10, 40, 60], [20, 6, 30, 30]])
    ref = pycocotools_stats(gt, json.loads(res.read_text()))
    assert ref[:2] == pytest.approx([0.7515, 0.8350], abs=5e-5)
    r = ours(gt, res)
    assert (r.extra["AP"], r.extra["AP50"]) == pytest.approx(tuple(ref[:2]), abs=1e-12) and not r.notes


def test_ground_truth_without_area_or_iscrowd(tmp_path):
    # pycocotools itself raises KeyError on such a file; we fill area = w·h and iscrowd = 0 (as our reader reads
    # it) and say so: then the numbers are pycocotools' on the completed file, AP 0.7515 / AP50 0.8350
    gt, res = worked_example(tmp_path, [[12, 10, 40, 60], [20, 6, 30, 30]], area_and_crowd=False)
    with pytest.raises(KeyError):
        pycocotools_stats(gt, json.loads(res.read_text()))
    r = ours(gt, res)
    (tmp_path / "complete").mkdir()
    complete, _ = worked_example(tmp_path / "complete", [[12, 10, 40, 60], [20, 6, 30, 30]])  # with w·h and 0
    ref = pycocotools_stats(complete, json.loads(res.read_text()))
    assert (r.extra["AP"], r.extra["AP50"]) == pytest.approx(tuple(ref[:2]), abs=1e-12)
    assert [n.split(" (")[0] for n in r.notes] == ["2 of the 2 ground-truth annotations have no 'iscrowd'",
                                                     "2 of the 2 ground-truth annotations have no 'area'"]
    from click.testing import CliRunner

    from cli.main import cli

    out = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(res), "--metric", "coco"])
    assert out.exit_code == 0, out.output
    assert "note: 2 of the 2 ground-truth annotations have no 'area'" in out.output and "AP50 0.8350" in out.output


def test_string_image_ids(tmp_path):
    # pycocotools takes string image ids (its index is a dict); so do we, in ground truth and results alike
    gt, res = worked_example(tmp_path, [[12, 10, 40, 60], [20, 6, 30, 30]], image_ids=("img-a", "img-b"))
    ref = pycocotools_stats(gt, json.loads(res.read_text()))
    assert ref[:2] == pytest.approx([0.7515, 0.8350], abs=5e-5)
    r = ours(gt, res)
    assert [im.image_id for im in read_dataset(gt).images] == ["img-a", "img-b"]
    np.testing.assert_allclose([r.extra[k] for k in COCO_STAT_NAMES], ref, rtol=0, atol=1e-12)
    assert ours(gt, res, "ilsvrc").mAP == pytest.approx(0.8333, abs=1e-4)  # same detections, hits at IoU ≥ .5


def crowd_files(tmp_path, detections):
    """Two 100x80 images with one person each ([10, 10, 40, 60], [20, 5, 30, 30]) and, on image 1, a crowd region of
    people [50, 40, 40, 30] (iscrowd 1)."""
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
                   {"id": 2, "file_name": "b.jpg", "width": 100, "height": 80}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 60], "area": 2400,
                         "iscrowd": 0},
                        {"id": 2, "image_id": 2, "category_id": 1, "bbox": [20, 5, 30, 30], "area": 900,
                         "iscrowd": 0},
                        {"id": 3, "image_id": 1, "category_id": 1, "bbox": [50, 40, 40, 30], "area": 1200,
                         "iscrowd": 1}],
        "categories": [{"id": 1, "name": "person"}]}))
    res = tmp_path / "res.json"
    res.write_text(json.dumps([{"image_id": i, "category_id": 1, "bbox": b, "score": s} for i, b, s in detections]))
    return gt, res


def test_crowd_region_is_not_an_object_to_find(tmp_path):
    # issue 12, kind 2: 2 exact hits + 1 crowd region; the ilsvrc metric counted the crowd region as a third
    # object (AP 2/3 = 0.6667). pycocotools (AP50) and our voc: 1.0; now the ilsvrc metric too.
    gt, res = crowd_files(tmp_path, [(1, [10, 10, 40, 60], 0.9), (2, [20, 5, 30, 30], 0.8)])
    ref = pycocotools_stats(gt, json.loads(res.read_text()))
    assert ref[1] == pytest.approx(1.0)
    for metric in ("ilsvrc", "voc"):
        r = ours(gt, res, metric)
        assert r.mAP == pytest.approx(ref[1], abs=1e-12) and r.per_class[0].num_gt == 2, metric
    assert ours(gt, res).extra["AP50"] == pytest.approx(ref[1], abs=1e-12)


def test_detection_on_a_crowd_region_is_not_a_false_positive(tmp_path):
    # the top detection [55, 45, 10, 10] lies inside the crowd region (IoU with it 100/1200, but all of its area
    # inside: COCO ignores it); [80, 60, 20, 20] has only a quarter inside (a FP for COCO too).
    # Ranked: ignored, TP, FP, TP of 2 positives. All-point AP by hand: .5 * 1 + .5 * 2/3 = 0.8333;
    # pycocotools' 101-point AP50 of the same ranking: (51 * 1 + 50 * 2/3) / 101.
    gt, res = crowd_files(tmp_path, [(1, [55, 45, 10, 10], 0.95), (1, [10, 10, 40, 60], 0.9),
                                     (1, [80, 60, 20, 20], 0.85), (2, [20, 5, 30, 30], 0.7)])
    ref = pycocotools_stats(gt, json.loads(res.read_text()))
    assert ref[1] == pytest.approx((51 + 50 * 2 / 3) / 101, abs=1e-12)
    for metric in ("ilsvrc", "voc"):
        r = ours(gt, res, metric)
        assert r.mAP == pytest.approx(0.5 + 0.5 * 2 / 3, abs=1e-12), metric
        assert r.per_class[0].num_gt == 2 and r.per_class[0].num_det == 3, metric  # the ignored one does not count


def test_annotation_id_zero_noted(tmp_path):
    # pycocotools counts a detection matched to ground-truth annotation id 0 as a false positive (its dtm array
    # holds the matched id, 0 = none; cocodataset/cocoapi#664), as on a Roboflow export (ids from 0): a perfect
    # result scores AP 0.5 on this image of two objects. The numbers stay pycocotools'; a note says why (trial 42)
    anns = [{"id": k, "image_id": 1, "category_id": 1, "bbox": b, "area": b[2] * b[3], "iscrowd": 0}
            for k, b in enumerate([[10, 10, 40, 60], [100, 20, 30, 30]])]
    data = {"images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 100}],
            "categories": [{"id": 1, "name": "person"}], "annotations": anns}
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(data))
    perfect = [{"image_id": 1, "category_id": 1, "bbox": a["bbox"], "score": 0.9 - 0.1 * a["id"]} for a in anns]
    res = tmp_path / "res.json"
    res.write_text(json.dumps(perfect))
    ref = pycocotools_stats(gt, perfect)
    r = ours(gt, res)
    assert r.extra["AP"] == pytest.approx(ref[0], abs=1e-12) and ref[0] < 0.9
    assert len(r.notes) == 1 and r.notes[0].startswith("ground-truth annotation id 0 (annotations[0])")
    assert not ours(gt, res, "voc").notes and ours(gt, res, "voc").mAP == 1.0
    for a in anns:
        a["id"] += 1
    gt.write_text(json.dumps(data))
    r = ours(gt, res)
    assert r.extra["AP"] == pytest.approx(1.0) and not r.notes


def test_results_in_an_objectless_category_0_are_noted(tmp_path):
    """Trial 42: results written with 0-based class indices against a Roboflow export (category 0 an unused
    super-category, the classes from 1) score 0 with nothing but the table to say why: a note now says it."""
    data = {"images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 100}],
            "categories": [{"id": 0, "name": "fruits", "supercategory": "none"},
                           {"id": 1, "name": "apple", "supercategory": "fruits"},
                           {"id": 2, "name": "pear", "supercategory": "fruits"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 60], "area": 2400,
                             "iscrowd": 0},
                            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [100, 20, 30, 30], "area": 900,
                             "iscrowd": 0}]}
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(data))
    gt = read_dataset(gt_path)
    res = tmp_path / "res.json"
    for shift, noted in ((1, True), (0, False)):
        res.write_text(json.dumps([{"image_id": 1, "category_id": a["category_id"] - shift, "bbox": a["bbox"],
                                    "score": 0.9} for a in data["annotations"]]))
        notes = align_predictions(read_predictions(res), gt).notes
        assert any("1 result of category_id 0 ('fruits'), which no ground-truth object has" in n and
                   "0-based class indices" in n for n in notes) == noted, notes


def test_results_ids_other_than_the_ground_truths_are_noted(tmp_path):
    """COCO results naming their images (file_name) by ids other than the ground truth's: detect eval matches them by
    name, pycocotools by image_id — other numbers, silently (trial 66: two ids swapped in the ground truth, coco AP
    0.0779 from detect eval, 0.0174 from pycocotools on the same files). A note says so; none when the ids agree."""
    gt_path, res_path = make_files(tmp_path)
    results = json.loads(res_path.read_text())
    for r in results:
        r["file_name"] = f"{r['image_id'] // 10}.jpg"
    res_path.write_text(json.dumps(results))
    gt = read_dataset(gt_path)
    assert not any("image_id other than" in n for n in align_predictions(read_predictions(res_path), gt).notes)
    doc = json.loads(gt_path.read_text())
    swap = {10: 20, 20: 10}
    for im in doc["images"]:
        im["id"] = swap.get(im["id"], im["id"])
    for a in doc["annotations"]:
        a["image_id"] = swap.get(a["image_id"], a["image_id"])
    gt_path.write_text(json.dumps(doc))
    gt = read_dataset(gt_path)
    notes = [n for n in align_predictions(read_predictions(res_path), gt).notes if "image_id other than" in n]
    assert len(notes) == 1 and notes[0].startswith(f"2 images of {res_path} have an image_id other than the ground "
                                                   "truth's id of their file_name (e.g. '1.jpg': image_id 10 there, "
                                                   "20 in"), notes
    assert "pycocotools matches by image_id alone" in notes[0]
