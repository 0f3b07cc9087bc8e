"""LabelMe JSON ground truth (detector.data.labelme): shapes → boxes, group_id, imagePath, imageData, labels.txt,
errors naming the field; and the same boxes scored as COCO JSON."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from detector.data import DatasetError, detect_format, read_dataset

from helpers import eval_json, write_coco, write_image

NAMES = ["dog", "giraffe", "person"]  # sorted: the classes of a folder without labels.txt
SIZES = {"a.jpg": (100, 75), "b.png": (64, 48), "c.jpg": (33, 57)}


def _shape(label, points, shape_type="rectangle", group_id=None, **extra):
    return {"label": label, "points": points, "group_id": group_id, "shape_type": shape_type, "flags": {},
            "description": "", **extra}


def _labelme(path: Path, image_path: str, shapes, width=None, height=None, image_data=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": image_path,
                                "imageData": image_data, "imageHeight": height, "imageWidth": width}, indent=2))
    return path


def _b64_image(width, height, fmt="PNG", mode="RGB") -> str:
    buf = io.BytesIO()
    Image.new(mode, (width, height)).save(buf, fmt)
    return base64.b64encode(buf.getvalue()).decode()


def _truth(seed: int, width: int, height: int, k: int):
    """``k`` random boxes (label, x1, y1, x2, y2) inside a ``width`` x ``height`` image."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        x1, x2 = sorted(rng.uniform(0, width, 2))
        y1, y2 = sorted(rng.uniform(0, height, 2))
        out.append((NAMES[int(rng.integers(0, len(NAMES)))], float(x1), float(y1), float(x2), float(y2)))
    return out


def make_dataset(root: Path):
    """``root/images/*`` and ``root/annotations/*.json`` (imagePath ``..\\images\\x``, Windows style; rectangles
    with their corners in either order) and the same boxes as COCO JSON (``root/gt.json``); returns (annotations
    folder, coco json, {image: boxes})."""
    truth = {}
    for k, (name, (w, h)) in enumerate(SIZES.items()):
        write_image(root / "images" / name, w, h)
        truth[name] = _truth(k, w, h, 3 + k)
        shapes = [_shape(lab, [[x2, y2], [x1, y1]] if j % 2 else [[x1, y1], [x2, y2]])
                  for j, (lab, x1, y1, x2, y2) in enumerate(truth[name])]
        _labelme(root / "annotations" / f"{Path(name).stem}.json", f"..\\images\\{name}", shapes, w, h)
    images = [{"id": i, "file_name": f"images/{n}", "width": w, "height": h}
              for i, (n, (w, h)) in enumerate(SIZES.items(), start=1)]
    anns = [{"id": 100 * i + j, "image_id": i, "category_id": NAMES.index(lab) + 1, "bbox": [x1, y1, x2 - x1, y2 - y1]}
            for i, n in enumerate(SIZES, start=1) for j, (lab, x1, y1, x2, y2) in enumerate(truth[n])]
    coco = write_coco(root / "gt.json", images, anns, [{"id": k + 1, "name": n} for k, n in enumerate(NAMES)])
    return root / "annotations", coco, truth


def _boxes_json(path: Path, dets) -> Path:
    """``detect run``'s boxes.json of detections ``[(image file, label, (x1, y1, x2, y2), score)]``, images named as
    `detect run` over the images folder names them."""
    names = sorted({d[0] for d in dets})
    path.write_text(json.dumps({
        "model": {"name": "synthetic"},
        "images": [{"id": i, "file_name": n, "width": SIZES[n][0], "height": SIZES[n][1]} for i, n in enumerate(names)],
        "categories": [{"id": k + 1, "wnid": {"dog": "n02084071", "person": "n00007846"}.get(c), "name": c}
                       for k, c in enumerate(NAMES)],
        "detections": [{"image_id": names.index(n), "category_id": NAMES.index(c) + 1,
                        "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "score": s} for n, c, b, s in dets]}))
    return path


_eval = eval_json


# ---------------------------------------------------------------------------------------------------- reading
def test_boxes_are_the_coco_boxes(tmp_path):
    folder, coco, truth = make_dataset(tmp_path)
    assert detect_format(folder) == "labelme" and detect_format(folder / "a.json") == "labelme"
    assert detect_format(coco) == "coco"
    lm, c = read_dataset(folder), read_dataset(coco)
    assert lm.format == "labelme" and len(lm) == 3 and not lm.problems
    assert [cat.name for cat in lm.classes] == NAMES and lm.classes[2].wnid == "n00007846"
    assert [cat.key for cat in lm.classes] == [cat.key for cat in c.classes]
    for a, b in zip(lm.images, c.images):
        assert a.file_name == b.file_name  # images/a.jpg: relative to the folder the JSON and the image share
        assert a.path == tmp_path / "images" / Path(a.file_name).name and a.image_id == b.image_id
        assert (a.width, a.height) == (b.width, b.height)
        assert a.boxes.dtype == np.float64 and a.labels.tolist() == b.labels.tolist()
        np.testing.assert_allclose(a.boxes, b.boxes, rtol=0, atol=1e-9)  # COCO: x + w rounds
    one = read_dataset(folder / "b.json")  # one file: a dataset of its image
    assert len(one) == 1 and one.images[0].file_name == "images/b.png"


def test_shape_types(tmp_path):
    write_image(tmp_path / "x.jpg", 200, 100)
    mask = np.zeros((20, 30), dtype=bool)
    mask[5:9, 3:13] = True  # columns 3..12, rows 5..8 of the mask placed at (int(40.7), int(50.2)) = (40, 50)
    buf = io.BytesIO()
    Image.fromarray(mask).save(buf, "PNG")
    shapes = [_shape("dog", [[30.5, 40.25], [10, 20]]),  # corners in either order (labelme2voc sorts them)
              _shape("dog", [[10, 10], [50, 12], [30, 60], [5, 30]], "polygon"),
              _shape("cat", [[100, 50], [103, 54]], "circle"),  # centre and a point on it: radius 5
              _shape("cat", [[40.7, 50.2], [69.7, 69.2]], "mask", mask=base64.b64encode(buf.getvalue()).decode()),
              _shape("cat", [[1, 1], [5, 1], [5, 5], [1, 5]]),  # a rectangle as four corners (labelme forks)
              {"label": "dog", "points": [[0, 0], [4, 4], [0, 8]]},  # labelme 3: no shape_type, a polygon
              _shape("dog", [[7, 7]], "point"), _shape("dog", [[1, 1], [9, 9]], "line"),
              _shape("__ignore__", [[0, 0], [9, 9]])]
    _labelme(tmp_path / "x.json", "x.jpg", shapes, 200, 100)
    ds = read_dataset(tmp_path / "x.json")
    assert [c.name for c in ds.classes] == ["cat", "dog"]
    assert ds.images[0].boxes.tolist() == [[10, 20, 30.5, 40.25], [5, 10, 50, 60], [95, 45, 105, 55],
                                           [43, 55, 53, 59], [1, 1, 5, 5], [0, 0, 4, 8]]
    assert ds.images[0].labels.tolist() == [1, 1, 0, 0, 0, 1]
    assert [(p.kind, p.severity) for p in ds.problems] == [("no_area", "warning")]
    assert "2 shapes without an area (line/point: shapes[6], shapes[7])" in str(ds.problems[0])


def test_group_id_merges_shapes_into_one_object(tmp_path):
    write_image(tmp_path / "x.png", 100, 100)
    shapes = [_shape("person", [[10, 10], [20, 30]], group_id=1),
              _shape("person", [[40, 5], [50, 20]], group_id=1),  # the same person, occluded: one object
              _shape("dog", [[60, 60], [70, 70], [65, 80]], "polygon", group_id=1),  # another label: its own
              _shape("person", [[0, 0], [5, 5]], group_id=2),
              _shape("person", [[90, 90], [95, 95]]), _shape("person", [[80, 80], [85, 85]])]  # null: one each
    _labelme(tmp_path / "x.json", "x.png", shapes, 100, 100)
    im = read_dataset(tmp_path).images[0]
    assert im.boxes.tolist() == [[10, 5, 50, 30], [60, 60, 70, 80], [0, 0, 5, 5], [90, 90, 95, 95], [80, 80, 85, 85]]
    assert im.labels.tolist() == [1, 0, 1, 1, 1]


def test_which_image_and_its_size(tmp_path):
    # imagePath with Windows backslashes; a missing image read from imageData; a stale imagePath
    write_image(tmp_path / "images" / "sub" / "a.jpg", 40, 30)
    _labelme(tmp_path / "ann" / "a.json", "..\\images\\sub\\a.jpg", [_shape("dog", [[1, 1], [9, 9]])], 40, 30)
    _labelme(tmp_path / "ann" / "b.json", "..\\images\\b.jpg", [_shape("dog", [[1, 1], [9, 9]])], 640, 480,
             image_data=_b64_image(50, 20))  # no file: imageData is the image (its size wins over the fields)
    write_image(tmp_path / "ann" / "c.png", 25, 25)
    _labelme(tmp_path / "ann" / "c.json", "old_name.png", [_shape("dog", [[1, 1], [9, 9]])], 25, 25)
    _labelme(tmp_path / "ann" / "d.json", "gone.jpg", [_shape("dog", [[1, 1], [9, 9]])], 70, 60)  # fields alone
    ds = read_dataset(tmp_path / "ann", strict=False)
    a, b, c, d = ds.images
    assert (a.file_name, a.path, a.width, a.height) == ("images/sub/a.jpg", tmp_path / "images" / "sub" / "a.jpg",
                                                        40, 30)
    assert (b.file_name, b.path, b.width, b.height) == ("images/b.jpg", None, 50, 20)
    assert (c.file_name, c.path) == ("c.png", tmp_path / "ann" / "c.png")  # named like the JSON file, beside it
    assert (d.file_name, d.path, d.width, d.height) == ("gone.jpg", None, 70, 60)
    found = {(Path(p.file).name, p.kind): p.message for p in ds.problems}
    assert set(found) == {("b.json", "size_mismatch"), ("c.json", "filename_mismatch")}
    assert "imageWidth x imageHeight is 640 x 480 but the image (imageData) is 50 x 20" in found["b.json",
                                                                                                 "size_mismatch"]
    assert "imagePath 'old_name.png' leads to no image" in found["c.json", "filename_mismatch"]
    write_image(tmp_path / "elsewhere" / "gone.jpg", 70, 60)  # --images: looked in first
    assert read_dataset(tmp_path / "ann", images=tmp_path / "elsewhere").images[3].path == \
        tmp_path / "elsewhere" / "gone.jpg"


def test_labels_txt_gives_the_classes(tmp_path):
    (tmp_path / "labels.txt").write_text("__ignore__\n_background_\nperson\ncat\ndog\n")  # labelme's examples
    write_image(tmp_path / "data_annotated" / "x.jpg", 50, 50)
    _labelme(tmp_path / "data_annotated" / "x.json", "x.jpg",
             [_shape("dog", [[1, 1], [9, 9]]), _shape("_background_", [[1, 1], [9, 9]])], 50, 50)
    ds = read_dataset(tmp_path / "data_annotated")
    assert [c.name for c in ds.classes] == ["person", "cat", "dog"] and ds.images[0].labels.tolist() == [2]
    _labelme(tmp_path / "data_annotated" / "y.json", "y.jpg", [_shape("horse", [[1, 1], [9, 9]])], 50, 50)
    with pytest.raises(DatasetError, match=r"y\.json: shapes\[0\]\.label 'horse' is not among the classes of "
                                           r".*labels\.txt \(cat, dog, person\)"):
        read_dataset(tmp_path / "data_annotated")


def test_labels_of_one_class_in_two_spellings_are_named(tmp_path):
    """Trial 43: 'Person' and 'person' (no labels.txt) became two classes, the warning naming them 'class 1' and
    'class 0' — indices a LabelMe user never wrote; 'Bottle' and 'bottle', which map to no ILSVRC class, got none."""
    write_image(tmp_path / "x.jpg", 50, 50)
    _labelme(tmp_path / "x.json", "x.jpg", [_shape("Person", [[1, 1], [9, 9]]), _shape("person", [[11, 1], [19, 9]]),
                                            _shape("Bottle", [[1, 11], [9, 19]]), _shape("bottle ", [[11, 11], [19, 19]])],
             50, 50)
    ds = read_dataset(tmp_path, strict=False)
    messages = [str(p) for p in ds.problems]
    assert len(ds.classes) == 4 and len(messages) == 2, messages
    assert any("labels 'Person' and 'person' name one class (person): 'person' kept as a class of its own" in m and
               "give them one spelling" in m for m in messages), messages
    assert any("labels 'Bottle' and 'bottle ' differ only in capitals or spaces: two classes" in m for m in messages), \
        messages


def test_a_label_with_spaces_around_it_maps_to_its_class(tmp_path):
    """Trial 46: a label ' person ' (hand-edited, or another tool's export) became an unmapped class of its own, so
    `detect eval` left every person detection out ("classes the ground truth does not have (person 45)") and scored
    ' person' AP 0 — where the VOC reader strips <name> person </name> to person. The name is kept as written."""
    write_image(tmp_path / "x.jpg", 50, 50)
    _labelme(tmp_path / "x.json", "x.jpg", [_shape(" person ", [[1, 1], [9, 9]]), _shape("dog\t", [[11, 1], [19, 9]])],
             50, 50)
    ds = read_dataset(tmp_path, strict=False)
    assert not ds.problems, [str(p) for p in ds.problems]
    assert [(c.name, c.wnid) for c in ds.classes] == [(" person ", "n00007846"), ("dog\t", "n02084071")]


@pytest.mark.parametrize("shape, message", [
    (_shape("dog", [[1, 1], ["2", 3]]), r"shapes\[1\]\.points must be a non-empty list of \[x, y\] pairs"),
    (_shape("dog", [[1, 1], [2, 3], [4, 4]]), r"shapes\[1\]\.points: a rectangle has 2 \(opposite corners\) or 4 "
                                              r"points, got 3"),
    (_shape("dog", [[1, 1], [2, 3]], group_id="a"), r"shapes\[1\]\.group_id must be an integer or null"),
    (_shape("dog", [[1, 1], [2, 3]], "ellipse"), r"shapes\[1\]\.shape_type 'ellipse' is not a shape labelme draws"),
    (_shape("", [[1, 1], [2, 3]]), r"shapes\[1\]\.label must be a non-empty string"),
    ({"label": "dog"}, r"shapes\[1\] lacks 'points'"),
    (_shape("dog", [[1, float("nan")], [2, 3]]), r"shapes\[1\] \('dog', rectangle\)\.points .* non-finite number"),
    (_shape("dog", [[1, 1], [2, 3]], "mask", mask="not an image"), r"shapes\[1\]\.mask is not a base64-encoded"),
])
def test_errors_name_the_file_and_field(tmp_path, shape, message):
    write_image(tmp_path / "x.jpg", 20, 20)
    f = _labelme(tmp_path / "x.json", "x.jpg", [_shape("dog", [[1, 1], [5, 5]]), shape], 20, 20)
    with pytest.raises(DatasetError, match=message) as e:
        read_dataset(tmp_path)
    assert e.value.problem.file == str(f)
    ds = read_dataset(tmp_path, strict=False)  # detect inspect: the error listed, the rest read
    assert len(ds.images[0]) == 1 and [p.severity for p in ds.problems] == ["error"]


def test_broken_files_are_listed_and_the_rest_read(tmp_path):
    folder, _, truth = make_dataset(tmp_path)
    (folder / "broken.json").write_text('{"shapes": [')
    (folder / "c.json").write_text(json.dumps({"version": "5", "shapes": [], "imagePath": "..\\images\\a.jpg"}))
    (folder / "d.json").write_text(json.dumps({"shapes": []}))
    _boxes_json(folder / "boxes.json", [])  # a detect run output saved beside: not ground truth, left out
    ds = read_dataset(folder, strict=False)
    assert [Path(im.file_name).name for im in ds.images] == ["a.jpg", "b.png"]
    said = [(Path(p.file).name, p.severity, p.message) for p in ds.problems]
    assert said[0][:2] == ("boxes.json", "warning") and "not a LabelMe file (a `detect run` output" in said[0][2]
    assert said[1][:2] == ("broken.json", "error") and "not valid JSON" in said[1][2]
    assert said[2][:2] == ("c.json", "error") and "is the image of a.json too" in said[2][2]
    assert said[3] == ("d.json", "error", "a LabelMe file lacks 'imagePath'")
    r = CliRunner().invoke(cli, ["inspect", str(folder)])
    assert r.exit_code == 0 and "(labelme)" in r.output and "broken.json:1: not valid JSON" in r.output, r.output
    r = CliRunner().invoke(cli, ["eval", "--gt", str(folder), "--pred", str(folder / "boxes.json")])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output  # a ClickException, no traceback
    assert "Error: " in r.output and "broken.json:1: not valid JSON" in r.output and "Traceback" not in r.output


# ------------------------------------------------------------------------------------------------ commands
def test_inspect_and_eval_of_the_ground_truth_itself(tmp_path):
    folder, coco, truth = make_dataset(tmp_path)
    r = CliRunner().invoke(cli, ["inspect", str(folder)])
    assert r.exit_code == 0 and f"{folder}  (labelme)" in r.output and "problems                     0" in r.output, \
        r.output
    dets = [(n, lab, (x1, y1, x2, y2), 1.0 - 0.01 * j) for n, objs in truth.items()
            for j, (lab, x1, y1, x2, y2) in enumerate(objs)]
    boxes = _boxes_json(tmp_path / "boxes.json", dets)  # named as `detect run images/` names them: a.jpg
    for metric in ("ilsvrc", "voc", "voc07", "coco"):
        m, ap, _ = _eval(folder, boxes, metric, tmp_path)
        assert m == pytest.approx(1.0) and set(ap) == set(NAMES), (metric, ap)


@pytest.mark.parametrize("metric", ["voc", "ilsvrc"])
def test_same_detections_same_ap_against_labelme_and_coco(tmp_path, metric):
    folder, coco, truth = make_dataset(tmp_path / "ds")
    rng = np.random.default_rng(3)
    dets = []
    for n, objs in truth.items():
        for lab, x1, y1, x2, y2 in objs:
            for _ in range(2):
                j = rng.normal(0, 0.15, 4) * [x2 - x1, y2 - y1, x2 - x1, y2 - y1]
                lab2 = lab if rng.random() > 0.2 else NAMES[(NAMES.index(lab) + 1) % 3]
                dets.append((n, lab2, (x1 + j[0], y1 + j[1], max(x2 + j[2], x1 + j[0] + 1), max(y2 + j[3], y1 + j[1]
                                                                                                 + 1)), rng.random()))
    boxes = _boxes_json(tmp_path / "boxes.json", dets)
    m_lm, ap_lm, _ = _eval(folder, boxes, metric, tmp_path)
    m_coco, ap_coco, _ = _eval(coco, boxes, metric, tmp_path)
    assert ap_lm == ap_coco and m_lm == m_coco and 0 < m_lm < 1


def test_format_option_and_detection(tmp_path):
    folder, coco, _ = make_dataset(tmp_path)
    r = CliRunner().invoke(cli, ["inspect", str(folder / "a.json"), "--format", "labelme"])
    assert r.exit_code == 0 and "(labelme)" in r.output, r.output
    r = CliRunner().invoke(cli, ["inspect", str(coco), "--format", "labelme"])  # a COCO file named as LabelMe
    assert r.exit_code == 0 and f"[error] {coco}: not a LabelMe file: a COCO file" in r.output, r.output


def test_files_with_sorted_keys_and_a_large_image_data_are_told_labelme(tmp_path):
    """Trial 43: a LabelMe file whose keys are sorted (``jq -S``, ``json.dump(sort_keys=True)``) begins with
    ``imageData``; with an embedded image over 64 KiB no ``shapes``/``imagePath`` key was in the sniffed head, so a
    folder of them was "several JSON files: name one" and one file was read as COCO."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (160, 200, 3), dtype=np.uint8)).save(buf, "PNG")  # noise: ~100 KB
    data = base64.b64encode(buf.getvalue()).decode()
    assert len(data) > 65536
    for name in ("a", "b"):
        (tmp_path / f"{name}.json").write_text(json.dumps(
            {"version": "5.4.1", "flags": {}, "shapes": [_shape("dog", [[10, 20], [50, 60]])],
             "imagePath": f"{name}.png", "imageData": data, "imageHeight": 160, "imageWidth": 200}, sort_keys=True))
    assert detect_format(tmp_path) == "labelme" and detect_format(tmp_path / "a.json") == "labelme"
    ds = read_dataset(tmp_path)
    assert ds.format == "labelme" and len(ds.images) == 2
    assert ds.images[0].boxes.tolist() == [[10.0, 20.0, 50.0, 60.0]]


def test_a_folder_is_labelme_though_detect_outputs_saved_there_sort_first(tmp_path):
    """Trial 43: `detect run photos/ --out photos/boxes.json --format coco` (and its boxes.job.json) and `detect eval
    --json photos/boxes.eval.json` sort before photo_1.json; only the first 3 JSON files were looked at, so the folder
    was "several JSON files: name one" instead of LabelMe with those files left out with a warning."""
    write_image(tmp_path / "photo_1.png", 64, 48)
    _labelme(tmp_path / "photo_1.json", "photo_1.png", [_shape("dog", [[10, 20], [50, 40]])], 64, 48)
    (tmp_path / "boxes.json").write_text(json.dumps({"images": [], "categories": [], "detections": []}))
    (tmp_path / "boxes.eval.json").write_text(json.dumps({"metric": "ilsvrc", "mAP": 0.5, "per_class": []}))
    (tmp_path / "boxes.job.json").write_text(json.dumps({"job": {}, "files": {}}))
    assert detect_format(tmp_path) == "labelme"
    ds = read_dataset(tmp_path, strict=False)
    assert len(ds.images) == 1 and ds.images[0].boxes.tolist() == [[10.0, 20.0, 50.0, 40.0]]
    assert sorted(Path(p.file).name for p in ds.problems) == ["boxes.eval.json", "boxes.job.json", "boxes.json"]


def test_a_folder_whose_sub_folders_hold_the_files_names_them(tmp_path):
    """Trial 43: a folder holding train/ and val/ of LabelMe files got "… found here; pass --format", which does not
    help: the sub-folders are named now."""
    for split in ("train", "val"):
        write_image(tmp_path / split / "x.jpg", 50, 50)
        _labelme(tmp_path / split / "x.json", "x.jpg", [_shape("dog", [[1, 1], [9, 9]])], 50, 50)
    (tmp_path / "notes").mkdir()
    with pytest.raises(DatasetError, match=r"found here \(its sub-folders are not read; train/, val/ hold annotation "
                                           r"files: give one of them\)$"):
        detect_format(tmp_path)


def test_an_absolute_windows_image_path_is_named_as_written(tmp_path):
    """Trial 43: C:\\Users\\me\\a.jpg was shown joined to the annotation's folder, and absent size fields as 'null x
    null'."""
    _labelme(tmp_path / "a.json", "C:\\Users\\me\\Pictures\\a.jpg", [_shape("dog", [[1, 1], [5, 5]])])
    ds = read_dataset(tmp_path, strict=False)
    assert [str(p) for p in ds.problems] == [
        f"{tmp_path / 'a.json'}: imagePath leads to no image (C:/Users/me/Pictures/a.jpg), there is no imageData, "
        "and no imageWidth/imageHeight: the size of the image the points are on is unknown"]


def test_an_absolute_windows_image_path_found_nowhere_is_named_by_its_file_name(tmp_path, monkeypatch):
    """Trial 60: an imagePath C:\\Users\\me\\old\\a.jpg that leads nowhere gave the image the ``file_name``
    'repo/C:/Users/me/old/a.jpg' (the written path taken relative to the current folder, then to the folder it shares
    with the annotation's): a name that changed with the folder the command ran in."""
    _labelme(tmp_path / "ann" / "a.json", "C:\\Users\\me\\old\\a.jpg", [_shape("dog", [[1, 1], [5, 5]])],
             width=10, height=10)
    names = []
    for cwd in (tmp_path, tmp_path / "ann"):
        monkeypatch.chdir(cwd)
        names.append([im.file_name for im in read_dataset(tmp_path / "ann", strict=False).images])
    assert names == [["a.jpg"], ["a.jpg"]]


def test_a_relative_image_path_found_nowhere_keeps_its_folders_from_a_relative_annotation_path(tmp_path, monkeypatch):
    """The trial-60 fix names only an absolute Windows path by its file name: a relative ``../images/a.jpg`` leading
    nowhere is still ``images/a.jpg``, the folder given relatively or not."""
    _labelme(tmp_path / "ann" / "a.json", "..\\images\\a.jpg", [_shape("dog", [[1, 1], [5, 5]])], width=10, height=10)
    monkeypatch.chdir(tmp_path)
    assert [im.file_name for im in read_dataset(Path("ann"), strict=False).images] == ["images/a.jpg"]
    assert [im.file_name for im in read_dataset(tmp_path / "ann", strict=False).images] == ["images/a.jpg"]
