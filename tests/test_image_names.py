"""Issue 12, kind 3(b): a prediction goes to the ground-truth image whose path it names (trailing path components,
the longest agreement winning, ties refused) — not to whichever image shares its stem."""

import json

import numpy as np
import pytest

from detector.data import read_dataset
from detector.data.names import AmbiguousImageName, ImageNameIndex, image_stem, name_parts
from eval import PredictionError, align_predictions, evaluate, read_predictions

from helpers import write_coco


def test_name_parts_and_stem():
    assert name_parts("/data/./cam_a/0001.jpg") == ("data", "cam_a", "0001.jpg")
    assert name_parts("C:\\photos\\cam_a\\0001.JPG") == ("C:", "photos", "cam_a", "0001.JPG")
    assert image_stem("cam_a/0001.JPG") == "0001"
    assert image_stem("ILSVRC2012_val_00000001") == "ILSVRC2012_val_00000001"  # ILSVRC names have no extension
    assert image_stem("img.v2.png") == "img.v2" and image_stem("img.v2") == "img.v2"  # only image extensions go


def test_index_rule():
    gt = ["cam_a/0001.jpg", "cam_b/0001.jpg", "/abs/split/images/0002.JPEG", "ILSVRC2012_val_00000003", "x.jpg",
          "x.png"]
    ix = ImageNameIndex(gt)
    assert ix.match("cam_a/0001.jpg")[0] == 0 and ix.match("site/cam_b/0001.jpg")[0] == 1  # longer: GT a suffix
    assert ix.match("images/0002.jpg") == (2, (2, False, False))  # a trailing part of the absolute path; stem compare
    assert ix.match("val/ILSVRC2012_val_00000003.JPEG")[0] == 3
    assert ix.match("cam_c/0001.jpg") is None  # the folders differ: another image
    assert ix.match("nothing.jpg") is None
    assert ix.match("x.png")[0] == 5 and ix.match("x.jpg")[0] == 4  # equal extension breaks the tie
    assert ix.match("x.JPG")[0] == 4 and ix.match("x.Png")[0] == 5  # in any case (trial 28: a camera's .JPG)
    assert ImageNameIndex(["x.jpg", "x.JPG"]).match("x.JPG")[0] == 1  # then the equal name
    with pytest.raises(AmbiguousImageName, match=r"'0001\.jpg'.*'cam_a/0001\.jpg' and 'cam_b/0001\.jpg'"):
        ix.match("0001.jpg")
    with pytest.raises(AmbiguousImageName, match="'x.jpg' and 'x.png'"):
        ix.match("x.gif")


def _two_cameras(tmp_path):
    # one person in each image, the same box, two folders with the same file name
    gt = write_coco(tmp_path / "gt.json",
                    [{"id": 1, "file_name": "cam_a/0001.jpg", "width": 100, "height": 80},
                     {"id": 2, "file_name": "cam_b/0001.jpg", "width": 100, "height": 80}],
                    [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 60]},
                     {"id": 2, "image_id": 2, "category_id": 1, "bbox": [20, 5, 30, 30]}],
                    [{"id": 1, "name": "person"}])
    return read_dataset(gt)


def _boxes_json(path, images, detections):
    path.write_text(json.dumps({
        "images": [{"id": i, "file_name": n, "width": 100, "height": 80} for i, n in images],
        "categories": [{"id": 124, "wnid": "n00007846", "name": "person"}],
        "detections": [{"image_id": i, "category_id": 124, "bbox": b, "score": s} for i, b, s in detections]}))
    return path


def test_same_file_name_in_two_folders(tmp_path):
    # issue 12's example: two exact hits; matched by stem they collapsed onto one image and scored 0.25.
    # Expected 1.0: each detection is exactly its image's object (hand computation: 2 TP of 2 positives).
    gt = _two_cameras(tmp_path)
    p = _boxes_json(tmp_path / "boxes.json", [(1, "cam_a/0001.jpg"), (2, "cam_b/0001.jpg")],
                    [(1, [10, 10, 40, 60], 0.9), (2, [20, 5, 30, 30], 0.8)])
    al = align_predictions(read_predictions(p), gt)
    assert al.image_index.tolist() == [0, 1]
    for metric in ("ilsvrc", "voc", "coco"):
        assert evaluate(gt, al, metric).mAP == pytest.approx(1.0), metric


def test_bare_name_against_two_folders_is_refused(tmp_path):
    gt = _two_cameras(tmp_path)
    p = _boxes_json(tmp_path / "boxes.json", [(1, "0001.jpg")], [(1, [10, 10, 40, 60], 0.9)])
    with pytest.raises(PredictionError, match=r"boxes\.json.*'0001\.jpg'.*'cam_a/0001\.jpg' and 'cam_b/0001\.jpg'"):
        align_predictions(read_predictions(p), gt)


def test_two_prediction_images_on_one_gt_image(tmp_path):
    gt = read_dataset(write_coco(tmp_path / "gt.json", [{"id": 1, "file_name": "x.jpg", "width": 100, "height": 80}],
                                 [], [{"id": 1, "name": "person"}]))
    # a collapsed old boxes.json: two images written under one name — which one is x.jpg cannot be told
    p = _boxes_json(tmp_path / "b.json", [(1, "x.jpg"), (2, "x.jpg")], [(1, [0, 0, 5, 5], 0.9), (2, [0, 0, 5, 5], 0.8)])
    with pytest.raises(PredictionError, match=r"'x\.jpg' \(id 1\) and 'x\.jpg' \(id 2\).*equally"):
        align_predictions(read_predictions(p), gt)
    # x.jpg beside x.png: x.jpg is the annotated image, x.png's predictions are left out and said so
    p = _boxes_json(tmp_path / "b.json", [(1, "x.png"), (2, "x.jpg")], [(1, [0, 0, 5, 5], 0.9), (2, [0, 0, 5, 5], 0.8)])
    al = align_predictions(read_predictions(p), gt)
    assert al.scores.tolist() == [0.8] and al.dropped_unknown_image == 1 and al.unknown_images == ("x.png",)
    assert "'x.png' (id 1) fits ground-truth image 'x.jpg' less well than 'x.jpg' (id 2)" in al.notes[0]


def test_relative_names_against_absolute_split_paths(tmp_path):
    # our split files name images by absolute path; detect run writes paths relative to its input folder
    gt = read_dataset(write_coco(tmp_path / "gt.json",
                                 [{"id": 7, "file_name": "/data/coco/images/a.jpg", "width": 100, "height": 80},
                                  {"id": 9, "file_name": "/data/voc/JPEGImages/a.jpg", "width": 100, "height": 80}],
                                 [], [{"id": 1, "name": "person"}]))
    p = _boxes_json(tmp_path / "b.json", [(1, "coco/images/a.jpg"), (2, "voc/JPEGImages/a.jpg")],
                    [(1, [0, 0, 5, 5], 0.9), (2, [0, 0, 5, 5], 0.8)])
    assert align_predictions(read_predictions(p), gt).image_index.tolist() == [0, 1]


def test_matching_is_fast():
    # ~10k ground-truth images (ILSVRC val2 has 9,917) and 40k predictions: the index makes it a dict look-up each
    import time

    from detector.data import Category, Dataset, ImageAnnotation
    from eval.predictions import Predictions

    n = 10_000
    empty = np.zeros((0, 4))
    gt = Dataset("ilsvrc", ".", (Category("x"),), tuple(ImageAnnotation(i + 1, f"ILSVRC2012_val_{i:08d}", None, 10, 10, empty,
                                                          np.zeros(0, np.int64), np.zeros(0, bool),
                                                          np.zeros(0, bool)) for i in range(n)), id_source="image_list")
    k = np.arange(40_000) % n
    names = tuple(f"val/ILSVRC2012_val_{i:08d}.JPEG" for i in k)
    preds = Predictions("boxes_json", "p", names, tuple(k.tolist()), (Category("x"),), np.zeros(40_000, np.int64),
                        np.zeros(40_000), np.zeros((40_000, 4)))
    t0 = time.perf_counter()
    al = align_predictions(preds, gt)
    assert time.perf_counter() - t0 < 2.0
    assert al.dropped_unknown_image == 0


def test_names_in_other_unicode_forms_match():
    import unicodedata

    index = ImageNameIndex(["photos/café.jpg", "photos/cafe.jpg"])
    assert index.match(unicodedata.normalize("NFD", "photos/café.jpg"))[0] == 0
    assert index.match(unicodedata.normalize("NFD", "café.png"))[0] == 0
    assert name_parts(unicodedata.normalize("NFD", "a/é.jpg")) == ("a", "é.jpg")
    # two files whose names differ only in their form (both in one folder): longer paths cannot help; say so
    from detector.data.names import how_to_tell_apart

    nfc, nfd = "café.jpg", unicodedata.normalize("NFD", "café.jpg")
    assert how_to_tell_apart(nfc, nfd) == "they differ only in Unicode normalisation (NFC and NFD): rename one of " \
        "the files"
    assert how_to_tell_apart("a/x.jpg", "b/x.jpg") == "name them by longer paths"
    with pytest.raises(AmbiguousImageName, match="differ only in Unicode normalisation"):
        ImageNameIndex([nfc, nfd]).match(nfc)
