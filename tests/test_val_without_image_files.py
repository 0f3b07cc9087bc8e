"""A --val set whose image files are all elsewhere (a COCO file kept apart from its images, no --images) was
validated at 0.0000 every epoch — nothing to detect on — and the first epoch was kept as the "best" model while the
last line said 'best epoch by validation' (trial 68). It is now left out of validation as a set without a box of a
class the model learns is: only images with a file count."""
import json

from click.testing import CliRunner

from cli.main import cli
from detector.classifier import load_member
from helpers import write_images_gt
from test_train import synthetic_images

BASE = ["--input-size", "96", "--width", "0.25", "--batch-size", "16", "--workers", "0", "--val-every", "1"]


def test_a_val_set_without_its_image_files_is_left_out_of_validation(tmp_path):
    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images)
    apart = tmp_path / "a" / "b" / "c"  # beyond the folders the COCO reader looks in
    apart.mkdir(parents=True)
    val = write_images_gt(apart / "val.json", images[:2])  # its images are not beside it
    out = tmp_path / "m.pt"
    res = CliRunner().invoke(cli, ["train", "classifier", "--gt", str(gt), "--val", str(val), "--out", str(out),
                                   "--epochs", "2", "--cache-dir", str(tmp_path / "cache"), *BASE])
    assert res.exit_code == 0, res.output
    assert "2 of the 2 images" in res.output and "have no image file" in res.output, res.output
    assert f"warning: --val {val} has no image file holding a box of a class the model learns" in res.output
    assert "no --val is left, so no epoch is validated and --out is the last epoch's model" in res.output
    assert "val mAP" not in res.output and "(last epoch: none validated)" in res.output, res.output
    log = [json.loads(line) for line in (tmp_path / "m.log.jsonl").read_text().splitlines()]
    assert not any("val_mAP" in r for r in log), log
    assert load_member(out).train["epoch"] == 2

    # one image of it there: validated on that one
    (apart / images[0].path.name).write_bytes(images[0].path.read_bytes())
    res = CliRunner().invoke(cli, ["train", "classifier", "--gt", str(gt), "--val", str(val), "--out",
                                   str(tmp_path / "n.pt"), "--epochs", "1", "--cache-dir", str(tmp_path / "cache"),
                                   *BASE])
    assert res.exit_code == 0 and "val mAP" in res.output and "left out of validation" not in res.output, res.output
