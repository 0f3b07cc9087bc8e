"""A resume refused for other --val / --gt data says when the files are the ones that run named, edited since
(trial 68: '--val v.json now, v.json in that run' named one path twice and left the user to guess what differed)."""
from click.testing import CliRunner

from cli.main import cli
from detector.nn.loop import state_path
from helpers import write_images_gt
from test_train import synthetic_images


def test_an_edited_val_or_gt_is_said_to_be_edited(tmp_path):
    images = synthetic_images(tmp_path, n=3)
    gt, val = tmp_path / "gt.json", tmp_path / "val.json"
    write_images_gt(gt, images)
    write_images_gt(val, images[:2])
    out = tmp_path / "m.pt"
    args = ["train", "classifier", "--gt", str(gt), "--val", str(val), "--out", str(out), "--input-size", "96",
            "--width", "0.25", "--batch-size", "16", "--workers", "0", "--cache-dir", str(tmp_path / "cache")]
    res = CliRunner().invoke(cli, [*args, "--epochs", "1"])
    assert res.exit_code == 0, res.output
    state = state_path(out).read_bytes()
    write_images_gt(val, images[1:])  # the same file, other images
    res = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume"])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert f"other validation data (--val {val} now, {val} in that run: the same files, edited since; the best " \
        "checkpoint is picked" in res.output, res.output
    write_images_gt(val, images[:2])
    write_images_gt(gt, images[:2])
    res = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume"])
    assert res.exit_code == 1, res.output
    assert f"other training data (--gt {gt} now, {gt} in that run: the same files, edited since; other images, " \
        "boxes or classes)" in res.output, res.output
    assert state_path(out).read_bytes() == state  # nothing trained
