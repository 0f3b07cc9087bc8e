import json
from pathlib import Path

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
    ("1_1 124 0.5 0 0 49 49\n", r"sub\.txt:1: not numbers"),  # trial 48: Python's int() read it as 11
    ("11 124 0.5 0 0 4_9 49\n", r"sub\.txt:1: not numbers"),
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
    # trial 52: a text file of another form (a CSV, a YOLO label file) was first told to pass --image-list
    p.write_text("\n0 0.5 0.5 0.2 0.3\n")
    with pytest.raises(PredictionError, match=r"sub\.txt:2: expected 7 fields .* got 5"):
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
    p.write_text(json.dumps([{"image_id": 3.0, "category_id": 18.0, "bbox": [0, 0, 10, 10], "score": 0.9}]))
    al = align_predictions(read_predictions(p), gt)  # as numpy exports write ids (pycocotools takes them)
    assert gt.classes[al.label[0]].name == "dog"
    p.write_text(json.dumps([{"image_id": 3, "category_id": 999, "bbox": [0, 0, 10, 10], "score": 0.9}]))
    with pytest.raises(PredictionError, match="unknown category_id 999"):
        align_predictions(read_predictions(p), gt)
    # User trial: one of the file's ids is a category of the ground truth, another (124) is not but is an ILSVRC
    # det_id (person): pycocotools never matches the 124 results, so neither do we (they were scored as persons)
    p.write_text(json.dumps([{"image_id": 3, "category_id": 18, "bbox": [0, 0, 10, 10], "score": 0.9},
                             {"image_id": 3, "category_id": 124, "bbox": [0, 0, 10, 10], "score": 0.8},
                             {"image_id": 3, "category_id": 124, "bbox": [5, 0, 10, 10], "score": 0.7}]))
    al = align_predictions(read_predictions(p), gt)
    assert [gt.classes[k].name for k in al.label] == ["dog"] and not al.dropped_other_class
    assert any("2 results of category_id 124 left out: not categories of" in n for n in al.notes), al.notes
    assert al.dropped_other_category == {"124": 2}  # trial 48: noted, but --json's left_out counted none
    # User trial 21: results of such ids on images of another ground truth (one file shared by several --gt) are
    # left out as on unknown images, and were counted a second time in this note
    p.write_text(json.dumps([{"image_id": 3, "category_id": 18, "bbox": [0, 0, 10, 10], "score": 0.9,
                              "file_name": "a.jpg"},
                             {"image_id": 3, "category_id": 124, "bbox": [0, 0, 10, 10], "score": 0.8,
                              "file_name": "a.jpg"},
                             {"image_id": 7, "category_id": 124, "bbox": [5, 0, 10, 10], "score": 0.7,
                              "file_name": "other.jpg"},
                             {"image_id": 7, "category_id": 77, "bbox": [5, 0, 10, 10], "score": 0.7,
                              "file_name": "other.jpg"}]))
    al = align_predictions(read_predictions(p), gt)
    assert any(n.startswith("1 result of category_id 124 left out: not categories of") for n in al.notes), al.notes
    assert not any("77" in n for n in al.notes), al.notes
    assert al.dropped_unknown_image == 2 and al.dropped_other_category == {"124": 1}


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
    notes = []  # the two lines that leave nothing out are said (not refused: the devkit takes them)
    assert read_blacklist(bl, gt, image_list=lst, notes=notes) == {(1, 57)}
    assert notes == [f"{bl}: 2 of its 3 lines match nothing in the ground truth {d}, and leave nothing out: index 13 "
                     f"is no image of it (by --image-list {lst}); 1 wnid is no class of it: n99999999"], notes
    bl.write_text("12 n02084071 extra\n")
    with pytest.raises(PredictionError, match=r"bl\.txt:1"):
        read_blacklist(bl, gt)
    # a class by its name or det_id is no wnid: refused, naming the line (trial 34: skipped without a word, so a
    # blacklist written so left nothing out); an unknown wnid is still skipped (it cannot affect the result)
    for line, cls in (("12 n02084071\n12 dog\n", "dog"), ("12 58\n", "58")):
        bl.write_text(line)
        with pytest.raises(PredictionError, match=rf"bl\.txt:{line.count(chr(10))}: '{cls}' is not a WordNet id"):
            read_blacklist(bl, gt, image_list=lst)


def test_blacklist_needs_a_list_against_positional_ids(tmp_path):
    """Without --image-list, ILSVRC XML ids are reading-order positions: a blacklist's index 1 would silently leave
    out the classes of whichever image sorts first, so it is refused, naming the file and what to pass."""
    d, lst = ilsvrc_gt(tmp_path)
    gt = read_dataset(d)
    assert gt.id_source == "position"
    bl = tmp_path / "bl.txt"
    bl.write_text("1 n02084071\n")
    with pytest.raises(PredictionError, match=r"bl\.txt: an ILSVRC blacklist .*--image-list"):
        read_blacklist(bl, gt)
    assert read_blacklist(bl, read_dataset(d, image_list=lst), image_list=lst) == set()  # index 1: not in the list


# ------------------------------------------------------------------------------------------ issue 12, kind 3(c)
SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "annotations.json"


def samples_boxes_json():
    """A boxes.json of the four sample images as detect run numbers them (sorted inputs: ids 1..4 in another order
    than the ground truth's): every object detected exactly (boxes rounded to 2 decimals as detect run writes
    them), plus a low-scoring miss per image. By hand: every class's detections rank all hits before the misses,
    so AP = 1 for each class and mAP = 1.0 under every metric (COCO too: IoU ≥ 0.999 at every threshold)."""
    gt = json.loads(SAMPLES.read_text())
    order = sorted(gt["images"], key=lambda im: im["file_name"])
    run_id = {im["id"]: k + 1 for k, im in enumerate(order)}
    assert [run_id[im["id"]] for im in gt["images"]] != [im["id"] for im in gt["images"]]  # the trap
    dets = [{"image_id": run_id[a["image_id"]], "category_id": a["category_id"],
             "bbox": [round(v, 2) for v in a["bbox"]], "score": round(0.9 - 0.01 * k, 5)}
            for k, a in enumerate(gt["annotations"])]
    dets += [{"image_id": run_id[im["id"]], "category_id": 124, "bbox": [0, 0, 5, 5], "score": 0.05}
             for im in gt["images"]]
    return {"model": {"name": "synthetic"},
            "images": [{"id": run_id[im["id"]], "file_name": im["file_name"], "width": im["width"],
                        "height": im["height"]} for im in order],
            "categories": [{"id": c["id"], "wnid": c["wnid"], "name": c["name"]} for c in gt["categories"]],
            "detections": dets, "errors": []}


@pytest.mark.parametrize("metric", ["ilsvrc", "voc", "coco"])
def test_every_output_format_evaluates_the_same(tmp_path, metric):
    # detect run --format coco numbered images by input position and eval matched them by id: mAP 0.0096 against
    # 0.4250 for the same detections as boxes.json (issue 12). Now json, coco and ilsvrc give the same numbers.
    from click.testing import CliRunner

    from detector.data import boxes_json
    from cli.main import cli

    doc = samples_boxes_json()
    runs = {}
    for fmt, name in (("json", "boxes.json"), ("coco", "results.json"), ("ilsvrc", "sub.txt")):
        boxes_json.write(tmp_path / name, doc, fmt)
        args = ["eval", "--gt", str(SAMPLES), "--pred", str(tmp_path / name), "--metric", metric,
                "--json", str(tmp_path / f"{fmt}.metrics.json")]
        if fmt == "ilsvrc":
            args += ["--image-list", str(tmp_path / "sub.images.txt")]  # written beside it
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0, res.output
        runs[fmt] = json.loads((tmp_path / f"{fmt}.metrics.json").read_text())
    assert runs["json"]["mAP"] == pytest.approx(1.0, abs=1e-12)
    for fmt in ("coco", "ilsvrc"):
        assert runs[fmt]["mAP"] == pytest.approx(runs["json"]["mAP"], abs=1e-12), fmt
        assert [c["AP"] for c in runs[fmt]["per_class"]] == pytest.approx([c["AP"] for c in runs["json"]["per_class"]])
    # without its list the text cannot be numbered: refused, pointing at the list
    res = CliRunner().invoke(cli, ["eval", "--gt", str(SAMPLES), "--pred", str(tmp_path / "sub.txt")])
    assert res.exit_code == 1 and "sub.images.txt" in res.output


def test_coco_results_without_file_names(tmp_path):
    # matched by id against COCO JSON (the COCO standard: the ground truth's ids) ...
    doc = samples_boxes_json()
    gt = json.loads(SAMPLES.read_text())
    gt_id = {im["file_name"]: im["id"] for im in gt["images"]}
    name_of = {im["id"]: im["file_name"] for im in doc["images"]}
    plain = [{"image_id": gt_id[name_of[d["image_id"]]], "category_id": d["category_id"], "bbox": d["bbox"],
              "score": d["score"]} for d in doc["detections"]]
    p = tmp_path / "plain.json"
    p.write_text(json.dumps(plain))
    sample_gt = read_dataset(SAMPLES)
    from eval import evaluate

    assert evaluate(sample_gt, align_predictions(read_predictions(p), sample_gt)).mAP == pytest.approx(1.0)
    # ... and refused against ground truth whose ids are mere positions (VOC here): not guessed
    d = tmp_path / "voc"
    d.mkdir()
    (d / "FudanPed00001.xml").write_text(voc_xml("FudanPed00001.jpg", 400, 384, [("person", 1, 1, 50, 50, 0)]))
    with pytest.raises(PredictionError, match=r"plain\.json: its images are given by image_id only.*voc.*file_name"):
        align_predictions(read_predictions(p), read_dataset(d))


# --------------------------------------------------------------------------------------------- issue 12, kind 4
@pytest.mark.parametrize("content,message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00", r"r\.json: a PNG image, not a prediction file"),  # its kind, not its bytes
    (b"PK\x03\x04\x00\x00", r"r\.json: a PyTorch file \(a model or checkpoint\?\) or another zip archive, not a "
                           r"prediction file"),
    (b"abc\x80\n", r"r\.json: not UTF-8 text \(invalid start byte at byte 3\), not a prediction file"),
    (b"", r"r\.json: the file is empty"),
    (b"[1, 2]", r"r\.json: \[0\] is not a result object"),
    (b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 5]}]', r"r\.json: \[0\] lacks 'score'$"),
    # segmentation results without boxes (trial 42: "lacks one of …", the reason not said)
    (b'[{"image_id": 1, "category_id": 1, "segmentation": {"size": [4, 4], "counts": "04L4"}, "score": 0.5}]',
     r"r\.json: \[0\] has a 'segmentation' but no 'bbox': detect eval scores boxes .*pycocotools\.mask\.toBbox"),
    (b'{"images": {}}', r"r\.json: not a boxes\.json file"),
    # trial 45 (as --hard-negatives): ground truth and proposals were "expected a list under …" alone
    (b'{"images": [], "categories": [], "annotations": []}', r"r\.json: not a boxes\.json file: it is a COCO "
                                                           r"ground-truth file: its 'annotations' are objects"),
    (b'{"method": "ss", "box_format": "xyxy", "images": [], "errors": []}', r"r\.json: not a boxes\.json file: "
                                                                           r"it is proposals of `detect proposals`"),
    (b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, -2, 5], "score": 0.5}]',
     r"r\.json: \[0\]: bbox \[x, y, w, h\] has a negative width or height"),
    (b'[{"image_id": 1.5, "category_id": 1, "bbox": [0, 0, 2, 5], "score": 0.5}]',
     r"r\.json: \[0\]: image_id must be an integer or a string, got 1\.5"),
    (b'{"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "person"}], "detections": '
     b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 5], "score": 0.5}, '
     b'{"image_id": 1, "category_id": 1, "bbox": [0, 0, 2, -0.5], "score": 0.5}]}',
     r"r\.json: detections\[1\]: bbox \[x, y, w, h\] has a negative width or height"),
])
def test_unusable_prediction_files_name_file_and_entry(tmp_path, content, message):
    p = tmp_path / "r.json"
    p.write_bytes(content)
    with pytest.raises(PredictionError, match=message):
        read_predictions(p)


def test_a_model_file_given_as_predictions_is_named_as_one(tmp_path):
    """Trial 32: `detect eval --pred person.pt` (the model instead of its detections) was answered "not UTF-8 text
    (… UTF-32 text without a byte-order mark?)"."""
    import torch

    p = tmp_path / "person.pt"
    torch.save({"weights": torch.zeros(3)}, p)
    with pytest.raises(PredictionError, match=r"person\.pt: a PyTorch file \(a model or checkpoint\?\) or another zip "
                                              r"archive, not a prediction file in "
                                              r"any of the formats \(boxes\.json: the output of `detect run`"):
        read_predictions(p)


def test_ilsvrc_text_negative_width_names_the_line(tmp_path):
    _, lst = ilsvrc_gt(tmp_path)
    p = tmp_path / "sub.txt"
    p.write_text("11 124 0.9 10 0 9 49\n11 124 0.9 10 0 8 49\n")  # width 0 (inclusive 10..9) is kept, -1 is not
    with pytest.raises(PredictionError, match=r"sub\.txt:2: box has a negative width or height"):
        read_predictions(p, image_list=lst)


def test_string_image_ids_in_boxes_json(tmp_path):
    gt = read_dataset(write_coco(tmp_path / "gt.json", [{"id": "x1", "file_name": "a.jpg", "width": 9, "height": 9}],
                                 [{"id": 1, "image_id": "x1", "category_id": 1, "bbox": [0, 0, 5, 5]}],
                                 [{"id": 1, "name": "person"}]))
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"images": [{"id": "run-1", "file_name": "a.jpg"}],
                             "categories": [{"id": 124, "wnid": "n00007846", "name": "person"}],
                             "detections": [{"image_id": "run-1", "category_id": 124, "bbox": [0, 0, 5, 5],
                                             "score": 0.9}]}))
    al = align_predictions(read_predictions(p), gt)
    assert al.image_index.tolist() == [0] and al.boxes.dtype == np.float64


def test_coco_results_name_all_classes_or_none(tmp_path):
    p = tmp_path / "r.json"
    p.write_text(json.dumps([{"image_id": 1, "category_id": 124, "bbox": [0, 0, 1, 1], "score": 0.5},
                             {"image_id": 1, "category_id": 124, "bbox": [0, 0, 1, 1], "score": 0.5,
                              "category_name": "person"}]))
    with pytest.raises(PredictionError, match=r"r\.json: \[1\] names its class \('category_name'\) but \[0\] does not"):
        read_predictions(p)


def test_coco_results_naming_classes_without_wnid(tmp_path):
    """User trial: results naming their classes by `category_name` alone ('person', as other tools write them)
    matched no class of a COCO or VOC ground truth, whose readers map 'person' onto its ILSVRC wnid."""
    gt = read_dataset(write_coco(tmp_path / "gt.json", [{"id": 3, "file_name": "a.jpg", "width": 100, "height": 100}],
                                 [{"id": 1, "image_id": 3, "category_id": 7, "bbox": [0, 0, 10, 10]}],
                                 [{"id": 7, "name": "person"}, {"id": 9, "name": "tvmonitor"}]))
    voc = tmp_path / "voc"
    voc.mkdir()
    (voc / "a.xml").write_text(voc_xml("a.jpg", 100, 100, [("tvmonitor", 1, 1, 10, 10, 0)]))
    p = tmp_path / "res.json"
    for truth, name, cid in ((gt, "person", 5), (read_dataset(voc), "tvmonitor", 6)):
        p.write_text(json.dumps([{"image_id": 3, "category_id": cid, "category_name": name, "bbox": [0, 0, 10, 10],
                                  "score": 0.9, "file_name": "a.jpg"}]))
        al = align_predictions(read_predictions(p), truth)
        assert al.label.tolist() == truth.images[0].labels.tolist()  # the class of the ground truth's box


def test_an_image_id_of_another_json_type_is_named_as_such(tmp_path):
    # the last round's item: '1' against the ground truth's 1 was "not an image id of the ground truth (its ids: 1)"
    gt = read_dataset(write_coco(tmp_path / "gt.json", [{"id": i, "file_name": f"{i}.jpg", "width": 50, "height": 50}
                                                         for i in (1, 2)],
                                 [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 9, 9]}],
                                 [{"id": 1, "name": "person"}]))
    det = {"category_id": 1, "bbox": [1, 1, 9, 9], "score": 0.5}
    p = tmp_path / "r.json"
    p.write_text(json.dumps([{"image_id": "1", **det}]))
    with pytest.raises(PredictionError, match=r"nothing to evaluate.*image_id '1' is a string where the ground "
                                              r"truth's id 1 is a number: ids are compared with their type"):
        align_predictions(read_predictions(p), gt)
    p.write_text(json.dumps([{"image_id": 1, **det}, {"image_id": "2", **det}]))  # one of them: a note, the rest run
    aligned = align_predictions(read_predictions(p), gt)
    assert aligned.dropped_unknown_image == 1 and len(aligned.scores) == 1
    assert any("image_id '2' is a string where the ground truth's id 2 is a number" in n for n in aligned.notes)


def test_a_voc_devkit_results_file_is_named_as_such(tmp_path):
    # trial 33: "pass --image-list", then "expected 7 fields", neither saying the format is not read; a file named
    # as the devkit names them is now read (tests/test_eval_voc_results.py), one named otherwise still refused so
    p = tmp_path / "comp4_det_val_person.txt"
    p.write_text("2008_000123 0.9 10 10 50 80\n")
    assert read_predictions(p).format == "voc_results"
    p = p.rename(tmp_path / "person.txt")
    with pytest.raises(PredictionError, match=r"person\.txt: its lines have 6 fields, as a PASCAL VOC devkit results "
                                              r"file's .*but its name is not one's"):
        read_predictions(p)


def test_equal_scores_rank_as_each_devkit_ranks_them(tmp_path):
    # trial 33: VOCevaldet.m sorts the results file's detections by confidence with MATLAB's stable sort, so equal
    # scores rank in the file's order; eval_detection.m ranks a class's detections image by image (image order)
    from eval import evaluate

    gt = read_dataset(write_coco(tmp_path / "gt.json", [{"id": i, "file_name": f"{n}.jpg", "width": 50, "height": 50}
                                                         for i, n in ((1, "a"), (2, "b"))],
                                 [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 20, 20]}],
                                 [{"id": 1, "name": "person"}]))
    p = tmp_path / "r.json"  # the false positive on b first in the file, the hit on a second, both 0.5
    p.write_text(json.dumps([{"image_id": 2, "category_id": 1, "bbox": [1, 1, 20, 20], "score": 0.5},
                             {"image_id": 1, "category_id": 1, "bbox": [1, 1, 20, 20], "score": 0.5}]))
    aligned = align_predictions(read_predictions(p), gt)
    assert evaluate(gt, aligned, "voc").mAP == 0.5  # [FP, TP]: precision 1/2 at recall 1
    assert evaluate(gt, aligned, "ilsvrc").mAP == 1.0  # [TP (image a), FP (image b)]


def test_ilsvrc_text_refuses_a_list_that_numbers_its_images_otherwise(tmp_path):
    # trial 48: detect run --format ilsvrc numbers its images by the list it writes beside sub.txt; evaluated with
    # another list (the official ilsvrc13_val2.txt, as the README's example has it), every detection went to another
    # image and the mAP was 0 without a word
    d, lst = ilsvrc_gt(tmp_path)  # a 11, b 12, c 13
    p = tmp_path / "sub.txt"
    p.write_text("1 58 0.9 10 10 59 59\n")  # the run's image 1 is b
    (tmp_path / "sub.images.txt").write_text("b.JPEG 1\n")
    official = tmp_path / "official.txt"
    official.write_text("a 1\nb 2\n")
    with pytest.raises(PredictionError, match=r"sub\.txt: .*official\.txt numbers its images otherwise than "
                                              r".*sub\.images\.txt.*index 1 is 'a' in the one and 'b' in the other.*"
                                              r"pass --image-list .*sub\.images\.txt"):
        read_predictions(p, image_list=official)
    # the list beside it, or one that numbers its indices alike (names by their last part), is read
    assert read_predictions(p, image_list=tmp_path / "sub.images.txt").image_names == ("b",)
    alike = tmp_path / "alike.txt"
    alike.write_text("val/b 1\nval/a 2\n")
    assert read_predictions(p, image_list=alike).image_names == ("val/b",)
    (tmp_path / "sub.images.txt").write_text("not a list\n")  # not an image list: not ours to judge
    assert read_predictions(p, image_list=official).image_names == ("a",)


def test_ilsvrc_ties_rank_by_the_lists_indices_not_its_line_order(tmp_path):
    """Trial 48: eval_detection.m sorts the image ids and concatenates its per-image results by id, so detections of
    equal confidence rank by image index; a list whose lines are not in index order ranked them by line."""
    from eval import evaluate

    d = tmp_path / "xml"
    d.mkdir()
    (d / "a.xml").write_text(ilsvrc_xml("a", 100, 100, [("n00007846", 0, 0, 49, 49)]))
    (d / "b.xml").write_text(ilsvrc_xml("b", 100, 100, [("n00007846", 0, 0, 49, 49)]))
    lst = tmp_path / "list.txt"
    lst.write_text("b 2\na 1\n")  # line order b, a; index order a, b
    gt = read_dataset(d, image_list=lst)
    p = tmp_path / "sub.txt"
    # a's object found at 0.9; then a tie at 0.5: b's object found (index 2), a false positive on a (index 1)
    p.write_text("1 124 0.9 0 0 49 49\n2 124 0.5 0 0 49 49\n1 124 0.5 60 60 99 99\n")
    res = evaluate(gt, align_predictions(read_predictions(p, image_list=lst), gt), metric="ilsvrc")
    # devkit order: 0.9 TP (image 1), then the ties by index: image 1's FP, image 2's TP → precision 1, 1/2, 2/3;
    # recall 1/2, 1/2, 1 → AP = 0.5 * 1 + 0.5 * 2/3
    assert res.per_class[0].ap == pytest.approx(0.5 + 0.5 * 2 / 3)  # by line order (b first) it was 1.0
