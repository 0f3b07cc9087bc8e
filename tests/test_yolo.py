"""YOLO (Ultralytics / Darknet) text: ground truth (detector.data.yolo) and predictions (eval.yolo_results), against
the same boxes written as COCO JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.common import load_dataset
from cli.main import cli
from detector.data import DatasetError, detect_format, read_dataset
from eval.predictions import PredictionError, align_predictions, read_predictions

from helpers import eval_json, write_coco, write_image

NAMES = ["person", "dog", "giraffe"]  # person, dog: ILSVRC classes; giraffe: a class of its own
SIZES = {"a.jpg": (100, 75), "b.png": (64, 48), "c.jpg": (33, 57), "d.jpg": (80, 60)}  # d: no label file


def _boxes(seed: int, width: int, height: int, k: int):
    """``k`` random pixel boxes [x, y, w, h] inside a ``width`` x ``height`` image, with a class each."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        x1, x2 = sorted(rng.uniform(0, width, 2))
        y1, y2 = sorted(rng.uniform(0, height, 2))
        out.append((int(rng.integers(0, len(NAMES))), [x1, y1, x2 - x1, y2 - y1]))
    return out


def _yolo_line(c, xywh, width, height, conf=None) -> str:
    x, y, w, h = xywh
    vals = [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
    return " ".join([str(c), *(repr(float(v)) for v in vals), *([repr(float(conf))] if conf is not None else [])])


def make_dataset(root: Path, names_yaml="names: [person, dog, giraffe]\n"):
    """A YOLO dataset (``data.yaml``, ``images/val``, ``labels/val``; one image without a label file) and the same
    boxes as COCO JSON (``gt.json``); returns (yaml, coco json, {file: [(class, xywh)]})."""
    truth = {}
    for k, (name, (w, h)) in enumerate(SIZES.items()):
        write_image(root / "images" / "val" / name, w, h)
        truth[name] = [] if name == "d.jpg" else _boxes(k, w, h, 3 + k)
        if name != "d.jpg":
            label = root / "labels" / "val" / (Path(name).stem + ".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(_yolo_line(c, b, w, h) + "\n" for c, b in truth[name]))
    write_image(root / "images" / "train" / "t.jpg", 40, 40)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "t.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    yaml = root / "data.yaml"
    yaml.write_text(f"path: .\ntrain: images/train\nval: images/val\n{names_yaml}")
    images = [{"id": i, "file_name": f"images/val/{n}", "width": w, "height": h}
              for i, (n, (w, h)) in enumerate(SIZES.items(), start=1)]
    anns = [{"id": 100 * i + j, "image_id": i, "category_id": c + 1, "bbox": b}
            for i, n in enumerate(SIZES, start=1) for j, (c, b) in enumerate(truth[n])]
    coco = write_coco(root / "gt.json", images, anns, [{"id": k + 1, "name": n} for k, n in enumerate(NAMES)])
    return yaml, coco, truth


def _detections(truth, seed=7):
    """Detections near the ground truth (jittered, some far off), with scores: [(file, class, xywh, score)]."""
    rng = np.random.default_rng(seed)
    out = []
    for name, objs in truth.items():
        w, h = SIZES[name]
        for c, (x, y, bw, bh) in objs:
            for _ in range(2):
                j = rng.normal(0, 0.15, 4) * [bw, bh, bw, bh]
                out.append((name, c if rng.random() > 0.2 else (c + 1) % len(NAMES),
                            [x + j[0], y + j[1], max(bw + j[2], 1.0), max(bh + j[3], 1.0)], float(rng.random())))
        out += [(name, c, b, float(rng.random())) for c, b in _boxes(99, w, h, 2)]
    return out


def _coco_results(path: Path, dets) -> Path:
    path.write_text(json.dumps([{"image_id": 0, "file_name": f"images/val/{n}", "category_id": c + 1,
                                 "category_name": NAMES[c], "bbox": b, "score": s} for n, c, b, s in dets]))
    return path


def _yolo_results(folder: Path, dets) -> Path:
    (folder / "labels").mkdir(parents=True)
    by_file = {}
    for n, c, b, s in dets:
        by_file.setdefault(Path(n).stem, []).append(_yolo_line(c, b, *SIZES[n], conf=s))
    for stem, lines in by_file.items():
        (folder / "labels" / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    return folder


_eval = eval_json


def test_boxes_are_the_coco_boxes(tmp_path):
    yaml, coco, truth = make_dataset(tmp_path)
    y, c = read_dataset(yaml), read_dataset(coco)
    assert y.format == "yolo" and y.split == "val" and len(y) == 4 and not y.problems
    assert [cat.name for cat in y.classes] == NAMES and y.classes[0].wnid == "n00007846"
    assert [cat.key for cat in y.classes] == [cat.key for cat in c.classes]
    for a, b in zip(y.images, c.images):
        assert a.file_name == b.file_name and (a.width, a.height) == (b.width, b.height)
        assert a.boxes.dtype == np.float64 and a.labels.tolist() == b.labels.tolist()
        np.testing.assert_allclose(a.boxes, b.boxes, rtol=0, atol=1e-9)
    assert len(y.images[3]) == 0  # d.jpg: no label file, an image without objects (Ultralytics' rule)


@pytest.mark.parametrize("metric", ["voc", "ilsvrc"])
def test_same_detections_same_ap_against_yolo_and_coco(tmp_path, metric):
    yaml, coco, truth = make_dataset(tmp_path / "ds")
    dets = _detections(truth)
    results = _coco_results(tmp_path / "res.json", dets)
    m_yolo, ap_yolo, r = _eval(yaml, results, metric, tmp_path)
    m_coco, ap_coco, _ = _eval(coco, results, metric, tmp_path)
    assert ap_yolo == ap_coco and m_yolo == m_coco and 0 < m_yolo < 1
    assert "split 'val' (4 images" in r.output  # the split read is said
    # the same detections as a YOLO run's folder (labels/<stem>.txt, --save-conf): the same APs again
    m_txt, ap_txt, _ = _eval(yaml, _yolo_results(tmp_path / "run", dets), metric, tmp_path)
    assert ap_txt == ap_coco and m_txt == m_coco


def test_yolo_predictions_round_trip(tmp_path):
    yaml, coco, truth = make_dataset(tmp_path / "ds")
    dets = [(n, c, b, 0.5 + 0.01 * k) for n, objs in truth.items() for k, (c, b) in enumerate(objs)]
    run = _yolo_results(tmp_path / "run", dets)
    preds = read_predictions(run)
    assert preds.format == "yolo_txt" and preds.normalised and len(preds) == len(dets)
    gt = read_dataset(yaml)
    aligned = align_predictions(preds, gt)
    for i, im in enumerate(gt.images):  # each box back in its image's pixels, its class the ground truth's
        on = aligned.image_index == i
        order = np.lexsort(aligned.boxes[on].T[::-1])
        want = np.lexsort(im.boxes.T[::-1])
        np.testing.assert_allclose(aligned.boxes[on][order], im.boxes[want], rtol=0, atol=1e-9)
        assert aligned.label[on][order].tolist() == im.labels[want].tolist()
    assert _eval(yaml, run, "voc", tmp_path)[0] == 1.0


def test_names_as_a_list_or_a_mapping(tmp_path):
    for k, names in enumerate(["names: [person, dog, giraffe]\n", "names:\n  0: person\n  1: dog\n  2: giraffe\n",
                               "names: {'2': giraffe, '0': person, '1': dog}\nnc: 3\n"]):
        yaml, _, _ = make_dataset(tmp_path / str(k), names)
        assert [c.name for c in read_dataset(yaml).classes] == NAMES, names
    yaml.write_text("val: images/val\nnc: 2\n")  # nc alone: class_0, class_1 (Ultralytics)
    with pytest.raises(DatasetError, match=r"labels/val/a\.txt:\d+: class 2 is not among the 2 names"):
        read_dataset(yaml)
    for text, message in [("val: images/val\nnames: [a, b]\nnc: 3\n", "'names' holds 2 names but 'nc' is 3"),
                          ("val: images/val\nnames: {0: a, 2: b}\n", "must map the class indices 0-1"),
                          ("val: images/val\n", "no 'names'"),
                          ("val: images/val\nnames: [a, b\n", "not valid YAML")]:
        yaml.write_text(text)
        with pytest.raises(DatasetError, match=message) as e:
            read_dataset(yaml)
        assert str(yaml) in str(e.value)


def test_splits(tmp_path):
    yaml, _, _ = make_dataset(tmp_path)
    assert read_dataset(yaml, split="train").split == "train" and len(read_dataset(yaml, split="train")) == 1
    with pytest.raises(DatasetError, match=r"no split 'test' \(its splits: train, val\)"):
        read_dataset(yaml, split="test")
    # a split given by its images folder (names from data.yaml above), or by its labels folder
    for given in (tmp_path / "images" / "train", tmp_path / "labels" / "train"):
        ds = read_dataset(given)
        assert ds.split is None and [im.file_name for im in ds.images] == ["t.jpg"], given
    assert [im.file_name for im in read_dataset(tmp_path / "labels" / "val").images] == list(SIZES)  # d.jpg too
    # a list of folders, a .txt list of images ("./" against the list's folder, as Ultralytics)
    (tmp_path / "val.txt").write_text("./images/val/b.png\nimages/val/a.jpg\nnotes.md\n")
    yaml.write_text("train: [images/train, images/val]\nval: val.txt\nnames: [person, dog, giraffe]\n")
    assert len(read_dataset(yaml, split="train")) == 5
    ds = read_dataset(yaml)
    assert [im.file_name for im in ds.images] == ["images/val/b.png", "images/val/a.jpg"]
    assert [p.kind for p in ds.problems] == ["malformed"] and "notes.md" in ds.problems[0].message
    # the train split for training, val for the rest (cli.common.load_dataset)
    assert load_dataset(yaml, "auto", split="train").split == "train"


def test_roboflow_layout_and_detection(tmp_path):
    # Roboflow: data.yaml beside train/ valid/, written "../train/images" (Ultralytics reads it without the ../)
    for split, (w, h) in (("train", (20, 10)), ("valid", (30, 40))):
        write_image(tmp_path / split / "images" / "x.jpg", w, h)
        (tmp_path / split / "labels").mkdir()
        (tmp_path / split / "labels" / "x.txt").write_text("1 0.5 0.5 1 1\n")
    (tmp_path / "data.yaml").write_text("train: ../train/images\nval: ../valid/images\nnc: 2\nnames: ['a', 'b']\n")
    ds = read_dataset(tmp_path / "data.yaml")
    assert [(im.file_name, im.width) for im in ds.images] == [("valid/images/x.jpg", 30)]
    assert ds.images[0].boxes.tolist() == [[0.0, 0.0, 30.0, 40.0]]
    for path in (tmp_path / "data.yaml", tmp_path, tmp_path / "valid" / "images", tmp_path / "valid" / "labels",
                 tmp_path / "valid"):
        assert detect_format(path) == "yolo", path
    empty = tmp_path / "photos"  # images without labels or names: still "a folder of images without annotations"
    write_image(empty / "p.jpg", 8, 8)
    with pytest.raises(DatasetError, match="a folder of images without annotations"):
        detect_format(empty)


def test_missing_and_empty_label_files_and_segments(tmp_path):
    yaml, _, _ = make_dataset(tmp_path)
    (tmp_path / "labels" / "val" / "a.txt").write_text("")
    # a polygon (class x1 y1 x2 y2 …): its bounding box (Ultralytics' segments2boxes)
    (tmp_path / "labels" / "val" / "b.txt").write_text("2 0.25 0.5 0.75 0.25 0.5 0.75\n0 0.5 0.5 0.5 0.5\n")
    ds = read_dataset(yaml)
    a, b, _, d = ds.images
    assert len(a) == 0 and len(d) == 0 and not ds.problems
    assert b.boxes.tolist() == [[16.0, 12.0, 48.0, 36.0], [16.0, 12.0, 48.0, 36.0]] and b.labels.tolist() == [2, 0]


@pytest.mark.parametrize("line, kind, message", [
    ("0 0.5 0.5 0.2", "malformed", "4 fields in '0 0.5 0.5 0.2'"),
    ("0 0.5 0.5 0.2 0.2 0.9", "malformed", "6 fields .*a prediction with its confidence"),
    ("0 0.5 0.5 0.2 0.2 0.3 0.3 0.4", "malformed", "pairs of coordinates"),
    ("0 0.5 abc 0.2 0.2", "malformed", "not numbers"),
    ("1.5 0.5 0.5 0.2 0.2", "malformed", "class '1.5' is not a class index"),
    ("3 0.5 0.5 0.2 0.2", "unknown_class", r"class 3 is not among the 3 names of .*data\.yaml \(indices 0-2\)"),
    ("0 0.5 nan 0.2 0.2", "bad_number", "non-finite"),
    ("0 0.5 0.5 -0.2 0.2", "inverted_box", "negative width"),
])
def test_errors_name_file_and_line(tmp_path, line, kind, message):
    yaml, _, _ = make_dataset(tmp_path)
    label = tmp_path / "labels" / "val" / "b.txt"
    label.write_text(f"0 0.5 0.5 0.5 0.5\n\n{line}\n")
    with pytest.raises(DatasetError, match=message) as e:
        read_dataset(yaml)
    assert str(e.value).startswith(f"{label}:3: ") and e.value.problem.kind == kind
    ds = read_dataset(yaml, strict=False)  # detect inspect: recorded, the rest read
    assert [(p.kind, p.line) for p in ds.problems] == [(kind, 3)] and len(ds.images[1]) == 1


def test_warnings_outside_and_duplicates(tmp_path):
    yaml, _, _ = make_dataset(tmp_path)
    label = tmp_path / "labels" / "val" / "b.txt"
    label.write_text("0 0.5 0.5 1.0000001 1\n0 0.9 0.5 0.4 0.2\n0 0.9 0.5 0.4 0.2\n0 1.5 0.5 0.2 0.2\n")
    ds = read_dataset(yaml)  # warnings only: read in strict mode too
    assert [(p.kind, p.line, p.severity) for p in ds.problems] == [
        ("outside_image", 2, "warning"), ("duplicate_box", 3, "warning"), ("outside_image", 4, "warning")]
    assert "lies wholly outside" in ds.problems[2].message
    assert len(ds.images[1]) == 3  # the rounding of line 1 is no problem; the duplicate left out


def test_names_missing_or_beside(tmp_path):
    write_image(tmp_path / "imgs" / "a.jpg", 10, 10)
    (tmp_path / "imgs" / "a.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    assert detect_format(tmp_path / "imgs") == "yolo"
    with pytest.raises(DatasetError, match=r"no class names were found .*put a classes\.txt"):
        read_dataset(tmp_path / "imgs")
    (tmp_path / "imgs" / "classes.txt").write_text("dog\n\n")  # LabelImg: labels and classes.txt beside the images
    ds = read_dataset(tmp_path / "imgs")
    assert [c.name for c in ds.classes] == ["dog"] and ds.images[0].boxes.tolist() == [[2.5, 2.5, 7.5, 7.5]]


def test_exif_orientation_sizes_the_boxes(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 40 x 20, shown 20 x 40
    Image.new("RGB", (40, 20)).save(folder / "r.jpg", exif=exif)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "r.txt").write_text("0 0.5 0.5 1 1\n")
    (tmp_path / "classes.txt").write_text("person\n")
    im = read_dataset(folder).images[0]
    assert (im.width, im.height) == (20, 40) and im.boxes.tolist() == [[0.0, 0.0, 20.0, 40.0]]


def test_prediction_errors(tmp_path):
    yaml, coco, truth = make_dataset(tmp_path / "ds")
    run = tmp_path / "run"
    (run / "labels").mkdir(parents=True)
    f = run / "labels" / "a.txt"
    for text, message in [("0 0.5 0.5 0.2 0.2\n", r"a\.txt:1: 5 fields, .*without a confidence.*save_conf=True"),
                          ("0 0.5 0.5 0.2 0.2 0.9\n0 0.1 0.1 0.2 0.2 0.3 0.4\n", r"a\.txt:2: 7 fields, a polygon "
                                                                              "without a confidence"),
                          ("0 0.5 0.5 0.2 0.2 0.9 3\n", r"a\.txt:1: 7 fields, a polygon without a confidence — "
                                                         r"or a tracker's .* track_id'.*which writes no track id"),
                          ("0 0.5 x 0.2 0.2 0.9\n", r"a\.txt:1: not numbers"),
                          ("-1 0.5 0.5 0.2 0.2 0.9\n", r"a\.txt:1: class '-1' is not a class index"),
                          ("0 0.5 0.5 inf 0.2 0.9\n", r"a\.txt:1: NaN or infinite")]:
        f.write_text(text)
        with pytest.raises(PredictionError, match=message):
            read_predictions(run)
    f.write_text("5 0.5 0.5 0.2 0.2 0.9\n")
    with pytest.raises(PredictionError, match=r"labels/a\.txt:1: class 5 is not among the 3 names of the ground "
                                              r"truth"):  # its file and line (trial 40: the folder only)
        align_predictions(read_predictions(run), read_dataset(yaml))
    # against COCO ground truth an index names no class: refused, unless the names are beside the predictions
    f.write_text("2 0.5 0.5 0.2 0.2 0.9\n")
    with pytest.raises(PredictionError, match=r"class indices only, and the ground truth .*gt\.json is coco"):
        align_predictions(read_predictions(run), read_dataset(coco))
    (run / "labels" / "classes.txt").write_text("person\ndog\ngiraffe\n")  # beside the text files (closing
    aligned = align_predictions(read_predictions(run), read_dataset(coco))  # note 17: read only with run/labels)
    assert aligned.label.tolist() == [2] and aligned.boxes.tolist() == [[40.0, 30.0, 60.0, 45.0]]
    (run / "labels" / "classes.txt").unlink()
    (run / "classes.txt").write_text("person\ndog\ngiraffe\n")
    aligned = align_predictions(read_predictions(run), read_dataset(coco))
    assert aligned.label.tolist() == [2] and aligned.boxes.tolist() == [[40.0, 30.0, 60.0, 45.0]]
    f.write_text("0 0.5 0.5 0.2 0.2 0.9\n1 0.2 0.2 0.2 0.4 0.4 0.3 0.8\n")  # a segmentation model's polygon
    aligned = align_predictions(read_predictions(run), read_dataset(coco))
    assert aligned.boxes.tolist()[1] == [20.0, 15.0, 40.0, 30.0] and aligned.scores.tolist() == [0.9, 0.8]
    f.unlink()  # a run that found nothing: every AP 0, no error
    assert _eval(yaml, run, "voc", tmp_path)[0] == 0.0


def test_inspect_shows_the_split(tmp_path):
    yaml, coco, _ = make_dataset(tmp_path)
    coco.unlink()  # a folder holding a COCO JSON is COCO
    out = tmp_path / "report.json"
    r = CliRunner().invoke(cli, ["inspect", str(tmp_path), "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert f"{yaml}  (yolo, split val)" in r.output and "images without boxes         1" in r.output
    assert json.loads(out.read_text())["split"] == "val"
    r = CliRunner().invoke(cli, ["inspect", str(tmp_path / "images" / "train"), "--format", "yolo"])
    assert r.exit_code == 0 and "(yolo)" in r.output, r.output


def test_an_output_never_replaces_a_yolo_prediction_file(tmp_path):
    yaml, coco, truth = make_dataset(tmp_path / "ds")
    run = _yolo_results(tmp_path / "run", _detections(truth))
    target = run / "labels" / "a.txt"
    before = target.read_text()
    r = CliRunner().invoke(cli, ["eval", "--gt", str(yaml), "--pred", str(run), "--json", str(target)])
    assert r.exit_code != 0 and str(target) in r.output, r.output
    assert target.read_text() == before


def test_two_images_of_one_stem_are_warned_of(tmp_path):
    yaml, _, _ = make_dataset(tmp_path / "ds")
    write_image(tmp_path / "ds" / "images" / "val" / "a.png", 100, 75)  # a.jpg's label file is a.png's too
    ds = read_dataset(yaml)
    assert [p.kind for p in ds.problems] == ["duplicate_image"], ds.problems
    assert "a.jpg and a.png" in str(ds.problems[0]) and len(ds) == 5


def test_names_beside_the_predictions_that_differ_from_the_ground_truths_are_matched_by_name(tmp_path):
    """A COCO model's predictions (its data.yaml beside them: 0 person, 1 bicycle, 2 car, …) on a dataset of other
    classes in other order (0 dog, 1 giraffe, 2 person): scored by name, not by index, and said (trial 40: the model's
    person was scored as the ground truth's class 0)."""
    yaml, coco, truth = make_dataset(tmp_path / "ds", names_yaml="names: [dog, giraffe, person]\n")
    run = tmp_path / "run"
    (run / "labels").mkdir(parents=True)
    (run / "data.yaml").write_text("names: [person, bicycle, dog]\n")
    (run / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2 0.9\n2 0.5 0.5 0.2 0.2 0.8\n1 0.5 0.5 0.2 0.2 0.7\n")
    gt = read_dataset(yaml)
    aligned = align_predictions(read_predictions(run), gt)
    assert [gt.classes[k].name for k in aligned.label.tolist()] == ["person", "dog"]  # bicycle: no such class
    assert any("not the ground truth's (class 0 is 'person' there, the ground truth's is 'dog')" in n
               for n in aligned.notes)
    # names beside that agree with the ground truth's (its own data.yaml copied there): by index, no note
    (run / "data.yaml").write_text("names: [dog, giraffe, person]\n")
    aligned = align_predictions(read_predictions(run), gt)
    assert aligned.label.tolist() == [0, 2, 1] and not any("beside" in n for n in aligned.notes)


def test_a_label_file_of_no_image_is_warned_of(tmp_path):
    yaml, _, _ = make_dataset(tmp_path / "ds")
    (tmp_path / "ds" / "labels" / "val" / "gone.txt").write_text("0 0.5 0.5 0.2 0.2\n")  # its image deleted
    ds = read_dataset(yaml)
    assert [(p.kind, Path(p.file).name) for p in ds.problems] == [("missing_image", "gone.txt")], ds.problems
    assert len(ds) == 4
    # in a sub-folder of its own, where no label file is read (trial 41: missed)
    (tmp_path / "ds" / "labels" / "val" / "sub").mkdir()
    (tmp_path / "ds" / "labels" / "val" / "sub" / "lost.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    for given in (yaml, tmp_path / "ds" / "images" / "val", tmp_path / "ds" / "labels" / "val"):
        assert sorted(Path(p.file).name for p in read_dataset(given).problems) == ["gone.txt", "lost.txt"], given


def test_a_datasets_folder_given_as_predictions_is_refused_not_scored_0(tmp_path):
    # trial 48: --pred my_yolo (the dataset: labels/val/*.txt of ground truth) was read as a run whose labels/ is
    # empty, "the detector found nothing", and every AP 0 with exit 0; labels/val itself got a message that did not
    # say why its text was not read; a run's labels a folder down were likewise "nothing"
    yaml, coco, truth = make_dataset(tmp_path / "ds")
    ds = yaml.parent
    with pytest.raises(PredictionError, match=r"ds: no predictions in .*ds/labels, but .*labels/(train|val)/\w+\.txt "
                                              r"holds YOLO lines 'class x_center y_center width height' without a "
                                              r"confidence: ground-truth labels"):
        read_predictions(ds)
    with pytest.raises(PredictionError, match=r"labels/val: a folder holding no PASCAL VOC .*labels/val/\w+\.txt holds "
                                              r"YOLO lines .*without a confidence: ground-truth labels"):
        read_predictions(ds / "labels" / "val")
    run = tmp_path / "run"
    (run / "labels" / "val").mkdir(parents=True)
    (run / "labels" / "val" / "a.txt").write_text("0 0.5 0.5 0.2 0.2 0.9\n")
    with pytest.raises(PredictionError, match=r"run: no predictions in .*run/labels itself, but .*labels/val holds "
                                              r"text files.*give that folder as --pred"):
        read_predictions(run)
    assert len(read_predictions(run / "labels" / "val")) == 1
    res = CliRunner().invoke(cli, ["eval", "--gt", str(yaml), "--pred", str(ds)])
    assert res.exit_code == 1 and "ground-truth labels" in res.output and "mAP" not in res.output, res.output
