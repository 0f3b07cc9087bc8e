"""`detect eval` reads a `detect run --format coco / ilsvrc` output once: the SHA-256 its job record is checked
against is taken of the bytes read, not of a second reading (trial 63: a large results file was read twice). The
check itself is as before: the record's classes are taken only while every file it names is as written."""
import collections
from pathlib import Path

import pytest

from detector.data import boxes_json
from eval import read_predictions
from test_eval_formats import samples_boxes_json


@pytest.fixture
def reads(monkeypatch):
    counted = collections.Counter()
    read_bytes = Path.read_bytes

    def counting(self):
        counted[self.resolve()] += 1
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    return counted


@pytest.mark.parametrize("fmt,name", [("coco", "results.json"), ("ilsvrc", "sub.txt")])
def test_an_output_with_a_job_record_is_read_once(tmp_path, reads, fmt, name):
    doc = {**samples_boxes_json(), "job": {"inputs": 4, "settings": {"classes": ["person"]}}}
    out = tmp_path / name
    boxes_json.write(out, doc, fmt)
    image_list = boxes_json.image_list_path(out) if fmt == "ilsvrc" else None
    preds = read_predictions(out, image_list=image_list)
    assert preds.kept_classes == ("person",)
    assert reads[out.resolve()] == 1, reads
    # the check is unchanged: an output edited since, or another file the record names, is no longer the job's
    out.write_bytes(out.read_bytes() + b"\n")
    assert read_predictions(out, image_list=image_list).kept_classes is None
    if image_list is not None:
        boxes_json.write(out, doc, fmt)
        image_list.write_text(image_list.read_text() + "\n")
        assert read_predictions(out, image_list=image_list).kept_classes is None


def test_a_file_without_a_record_is_not_hashed(tmp_path, monkeypatch):
    import hashlib

    out = tmp_path / "results.json"
    boxes_json.write(out, samples_boxes_json(), "coco")
    boxes_json.job_record_path(out).unlink()
    monkeypatch.setattr(hashlib, "sha256", None)  # any hashing would fail
    assert len(read_predictions(out)) and read_predictions(out).kept_classes is None
