"""A `--val` set none of whose classes the model learns scores 0 at every epoch whatever the model does: it was
warned of, then validated all the same — the selective search of its images, a detection pass per validation, an
"val mAP 0.0000" line per epoch, and the first epoch kept as the "best" model (no later 0 beats it). Such a set is now
left out of validation, said once at the start; with no --val left no epoch is validated and --out is the last
epoch's model, as without --val."""

import json

from click.testing import CliRunner

from cli.main import cli
from detector.classifier import load_member
from helpers import write_images_gt
from test_train import synthetic_images

BASE = ["--input-size", "96", "--width", "0.25", "--batch-size", "16", "--workers", "0", "--val-every", "1"]


def test_a_val_set_of_unlearnt_classes_is_left_out_of_validation(tmp_path):
    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images)
    other = write_images_gt(tmp_path / "other.json", images[:2], categories=("cat", "bird"))
    out = tmp_path / "m.pt"
    res = CliRunner().invoke(cli, ["train", "classifier", "--gt", str(gt), "--val", str(other), "--out", str(out),
                                   "--epochs", "2", "--cache-dir", str(tmp_path / "cache"), *BASE])
    assert res.exit_code == 0, res.output
    said = (f"warning: --val {other} has no box of a class the model learns (its boxes are bird, cat): left out of "
            "validation (its mAP would be 0 at every epoch); no --val is left, so no epoch is validated and --out is "
            "the last epoch's model")
    assert res.output.count(said) == 1, res.output
    assert "val mAP" not in res.output, res.output
    log = [json.loads(line) for line in (tmp_path / "m.log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2] and not any("val_mAP" in r for r in log)
    assert load_member(out).train["epoch"] == 2  # the last epoch, not the first "best" of a row of zeros

    # beside a set that counts: left out, the other picks the best epoch
    res = CliRunner().invoke(cli, ["train", "classifier", "--gt", str(gt), "--val", str(other), "--val", str(gt),
                                   "--out", str(tmp_path / "n.pt"), "--epochs", "1", "--cache-dir",
                                   str(tmp_path / "cache"), *BASE])
    assert res.exit_code == 0, res.output
    assert f"warning: --val {other} has no box of a class the model learns (its boxes are bird, cat): left out of " \
           f"validation (its mAP would be 0 at every epoch); the best epoch is picked on --val {gt}" in res.output
    assert "val mAP" in res.output, res.output


def test_an_ensemble_says_it_once(tmp_path):
    """And every other warning about the data its members share (an image file missing: once per member before)."""
    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images)
    doc = json.loads(gt.read_text())
    doc["images"].append({"id": 99, "file_name": "missing.png", "width": 80, "height": 64})
    gt.write_text(json.dumps(doc))
    other = write_images_gt(tmp_path / "other.json", images[:2], categories=("cat", "bird"))
    res = CliRunner().invoke(cli, ["train", "ensemble", "--members", "2", "--gt", str(gt), "--val", str(other),
                                   "--out", str(tmp_path / "ens"), "--epochs", "1", "--cache-dir",
                                   str(tmp_path / "cache"), *BASE])
    assert res.exit_code == 0, res.output
    assert res.output.count(f"--val {other} has no box of a class the model learns") == 1, res.output
    assert res.output.count(f"warning: 1 of the 4 images of {gt} has no image file (left out: missing.png)") == 1
    assert "val mAP" not in res.output, res.output
