"""User trial 54: `detect train classifier --val … --val-every 0` took --val and never scored it (no epoch is
validated), and the last epoch's model was written as "(best)" without a word. A note says so, once."""

from click.testing import CliRunner

from cli.main import cli
from helpers import write_images_gt
from test_train import synthetic_images


def test_val_with_val_every_zero_is_noted(tmp_path):
    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images)
    base = ["train", "classifier", "--gt", str(gt), "--input-size", "96", "--width", "0.25", "--batch-size", "16",
            "--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--epochs", "1"]
    note = "note: --val-every 0: --val is never scored"
    res = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "a.pt"), "--val", str(gt), "--val-every", "0"])
    assert res.exit_code == 0 and res.output.count(note) == 1, res.output
    assert "val mAP" not in res.output
    for extra in (["--val-every", "0"], ["--val", str(gt), "--val-every", "1"]):  # nothing to note
        res = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "b.pt"), *extra])
        assert res.exit_code == 0 and note not in res.output, res.output
    res = CliRunner().invoke(cli, ["train", "ensemble", "--members", "2", *base[2:], "--out", str(tmp_path / "ens"),
                                   "--val", str(gt), "--val-every", "0"])
    assert res.exit_code == 0 and res.output.count(note) == 1, res.output  # once, not per member
