import json

import numpy as np
import pytest

from detector.data import read_dataset
from eval import PredictionError, align_predictions, read_blacklist, read_predictions

from helpers import ilsvrc_xml, voc_xml, write_coco


def ilsvrc_gt(tmp_path):
    d = tmp_path / "xml"
    d.mkdir()
    (d / "a.xml").write_text(ilsvrc_xml("a", 100, 100, [("n00007846", 0, 0, 49, 49)]))
    (d / "b.xml").write_text(ilsvrc_xml("b", 100, 100, [("n02084071", 10, 10, 59, 59)]))
    lst = tmp_path / "list.txt"
    lst.write_text("a 11\nb 12\nc 13\n")
    return d, lst


def test_ilsvrc_text(tmp_path):
    d, lst = ilsvrc_gt(tmp_path)
    gt = read_dataset(d, image_list=lst)
    p = tmp_path / "sub.txt"
    p.write_text("11 124 0.9 0 0 49 49\n\n12 58 0.8 10 10 59 59\n13 58 0.7 0 0 5 5\n")
    pr = read_predictions(p, image_list=lst)
    assert pr.format == "ilsvrc_text" and len(pr) == 3
    np.testing.assert_allclose(pr.boxes[0], [0, 0, 50, 50])  # 0-based inclusive → +1
    al = align_predictions(pr, gt)
    assert al.image_index.tolist() == [0, 1] and al.dropped_unknown_image == 1 and al.unknown_images == ("c",)
    assert [gt.classes[c].name for c in al.label] == ["person", "dog"]


@pytest.mark.parametrize("text,message", [
    ("11 124 0.9 0 0 49\n", r"sub\.txt:1: expected 7 fields"),
    ("11 124 0.9 0 0 49 49\n11 124 x 0 0 49 49\n", r"sub\.txt:2: not numbers"),
    ("11 124 nan 0 0 49 49\n", r"sub\.txt:1: NaN or infinite"),
    ("11 124 0.5 0 0 inf 49\n", r"sub\.txt:1: NaN or infinite"),
    ("11 201 0.5 0 0 49 49\n", r"sub\.txt:1: unknown class id 201"),
    ("99 1 0.5 0 0 49 49\n", r"sub\.txt:1: image index 99 is not in"),
])
def test_ilsvrc_text_errors(tmp_path, text, message):
    _, lst = ilsvrc_gt(tmp_path)
    p = tmp_path / "sub.txt"
    p.write_text(text)
    with pytest.raises(PredictionError, match=message):
        read_predictions(p, image_list=lst)


def test_ilsvrc_text_needs_image_list(tmp_path):
    p = tmp_path / "sub.txt"
    p.write_text("1 124 0.9 0 0 49 49\n")
    with pytest.raises(PredictionError, match="--image-list"):
        read_predictions(p)


def test_boxes_json_matches_by_file_name_and_wnid(tmp_path):
    # VOC ground truth; boxes.json from an ILSVRC-vocabulary model: person ↔ n00007846, image by stem
    d = tmp_path / "voc"
    d.mkdir()
    (d / "x.xml").write_text(voc_xml("x.jpg", 100, 80, [("person", 1, 1, 50, 50, 0)]))
    gt = read_dataset(d)
    out = {"model": {"name": "t"}, "images": [{"id": 5, "file_name": "sub/x.png", "width": 100, "height": 80},
                                              {"id": 6, "file_name": "y.jpg", "width": 10, "height": 10}],
           "categories": [{"id": 124, "wnid": "n00007846", "name": "person"},
                          {"id": 1, "wnid": "n02672831", "name": "accordion"}],
           "detections": [{"image_id": 5, "category_id": 124, "bbox": [0, 0, 50, 50], "score": 0.9},
                          {"image_id": 5, "category_id": 1, "bbox": [0, 0, 50, 50], "score": 0.8},
                          {"image_id": 6, "category_id": 124, "bbox": [0, 0, 5, 5], "score": 0.8}],
           "errors": [{"file_name": "broken.jpg", "error": "cannot decode image"}]}
    p = tmp_path / "boxes.json"
    p.write_text(json.dumps(out))
    pr = read_predictions(p)
    assert pr.format == "boxes_json" and len(pr.errors) == 1
    al = align_predictions(pr, gt)
    assert len(al) == 1 and gt.classes[al.label[0]].name == "person"
    assert al.dropped_unknown_image == 1 and al.dropped_other_class == {"accordion": 1}


@pytest.mark.parametrize("det,message", [
    ({"image_id": 1, "category_id": 124, "bbox": [0, 0, 5, 5], "score": float("nan")}, "finite"),
    ({"image_id": 1, "category_id": 7, "bbox": [0, 0, 5, 5], "score": 0.5}, "unknown category_id 7"),
    ({"image_id": 1, "category_id": 124, "bbox": [0, 0, 5], "score": 0.5}, "bbox must be"),
    ({"image_id": 1, "category_id": 124, "score": 0.5}, "lacks"),
])
def test_boxes_json_errors(tmp_path, det, message):
    out = {"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 124, "wnid": "n00007846",
                                                                         "name": "person"}], "detections": [det]}
    p = tmp_path / "boxes.json"
    p.write_text(json.dumps(out))
    with pytest.raises(PredictionError, match=rf"boxes\.json: detections\[0\].*{message}"):
        read_predictions(p)


def test_malformed_json_names_line(tmp_path):
    p = tmp_path / "r.json"
    p.write_text('[\n{"image_id": 1,\n}]')
    with pytest.raises(PredictionError, match=r"r\.json:3: not valid JSON"):
        read_predictions(p)


def test_coco_results_use_gt_category_ids(tmp_path):
    gt_path = write_coco(tmp_path / "gt.json", [{"id": 3, "file_name": "a.jpg", "width": 100, "height": 100}],
                         [{"id": 1, "image_id": 3, "category_id": 18, "bbox": [0, 0, 10, 10], "iscrowd": 0,
                           "area": 100}],
                         [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}])
    gt = read_dataset(gt_path)
    p = tmp_path / "res.json"
    p.write_text(json.dumps([{"image_id": 3, "category_id": 18, "bbox": [0, 0, 10, 10], "score": 0.9}]))
    al = align_predictions(read_predictions(p), gt)
    assert gt.classes[al.label[0]].name == "dog"
    p.write_text(json.dumps([{"image_id": 3, "category_id": 999, "bbox": [0, 0, 10, 10], "score": 0.9}]))
    with pytest.raises(PredictionError, match="unknown category_id 999"):
        align_predictions(read_predictions(p), gt)


def test_coco_results_against_non_coco_gt_use_det_ids(tmp_path):
    d, lst = ilsvrc_gt(tmp_path)
    gt = read_dataset(d, image_list=lst)
    p = tmp_path / "res.json"
    p.write_text(json.dumps([{"image_id": 12, "category_id": 58, "bbox": [10, 10, 50, 50], "score": 0.9}]))
    al = align_predictions(read_predictions(p), gt)
    assert al.image_index.tolist() == [1] and gt.classes[al.label[0]].name == "dog"


def test_blacklist_reader(tmp_path):
    d, lst = ilsvrc_gt(tmp_path)
    gt = read_dataset(d, image_list=lst)
    bl = tmp_path / "bl.txt"
    bl.write_text("12 n02084071\n13 n00007846\n11 n99999999\n")
    assert read_blacklist(bl, gt, image_list=lst) == {(1, 57)}  # dog is det_id 58 → class index 57
    bl.write_text("12 n02084071 extra\n")
    with pytest.raises(PredictionError, match=r"bl\.txt:1"):
        read_blacklist(bl, gt)
