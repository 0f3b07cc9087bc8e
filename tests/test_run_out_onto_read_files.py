"""`detect run --out` naming a file the run reads besides its images — a --model member, the --multibox network,
the --coco-gt ground truth — is refused before any work, the file kept (trial 57: each was replaced by the
detections)."""

import json

import pytest
from click.testing import CliRunner

from cli.main import cli
from test_presets import crops_model, image_folder


@pytest.mark.parametrize("in_folder", [False, True])
def test_out_onto_the_model_file_is_refused(tmp_path, in_folder):
    d = image_folder(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    model = crops_model(models / "member0.pt")
    before = model.read_bytes()
    r = CliRunner().invoke(cli, ["run", str(d), "--model", str(models if in_folder else model), "--out", str(model),
                                 "--no-cache", "--workers", "1"])
    assert r.exit_code == 1 and "which this run reads" in r.output and "--model file" in r.output, r.output
    assert model.read_bytes() == before


def test_out_onto_the_coco_gt_is_refused(tmp_path):
    d = image_folder(tmp_path)
    crops_model(tmp_path / "m.pt")
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 1, "file_name": "0.png", "width": 120, "height": 90},
                                         {"id": 2, "file_name": "1.png", "width": 120, "height": 90}],
                              "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    before = gt.read_bytes()
    r = CliRunner().invoke(cli, ["run", str(d), "--model", str(tmp_path / "m.pt"), "--format", "coco", "--coco-gt",
                                 str(gt), "--out", str(gt), "--no-cache", "--workers", "1"])
    assert r.exit_code == 1 and "--coco-gt file" in r.output, r.output
    assert gt.read_bytes() == before


def test_out_onto_the_multibox_file_is_refused(tmp_path):
    d = image_folder(tmp_path)
    crops_model(tmp_path / "m.pt")
    mb = tmp_path / "mb.pt"
    mb.write_bytes(b"not really a multibox network")
    r = CliRunner().invoke(cli, ["run", str(d), "--model", str(tmp_path / "m.pt"), "--proposals", "multibox",
                                 "--multibox", str(mb), "--out", str(mb), "--no-cache"])
    assert r.exit_code == 1 and "--multibox file" in r.output, r.output
    assert mb.read_bytes() == b"not really a multibox network"


def test_merge_out_onto_the_coco_gt_is_refused(tmp_path):
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 1, "file_name": "0.png", "width": 120, "height": 90}],
                              "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    part = tmp_path / "p0.json"
    part.write_text("{}")
    before = gt.read_bytes()
    r = CliRunner().invoke(cli, ["merge", str(part), "--format", "coco", "--coco-gt", str(gt), "--out", str(gt)])
    assert r.exit_code == 1 and "--coco-gt file" in r.output, r.output
    assert gt.read_bytes() == before
